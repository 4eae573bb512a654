-- Management keys of tokens the CA personalized, by the serial of the certificate on the token.
-- The server answers the token's management-key challenge with them during install; the key
-- never leaves the server. A renewal moves the entry to the new certificate's serial.
CREATE TABLE management_keys (
    cert_serial TEXT PRIMARY KEY,
    algorithm INTEGER NOT NULL,
    key_bytes BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
