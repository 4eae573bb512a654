-- Why and by whom a certificate was revoked (RFC 5280 reason code), for the CRL and the record.
ALTER TABLE certificates ADD COLUMN revocation_reason INTEGER;
ALTER TABLE certificates ADD COLUMN revoked_by TEXT;
