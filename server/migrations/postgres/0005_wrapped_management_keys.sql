-- Management keys are stored wrapped (RFC 3394) under the data directory's management-keys.kek.
-- 0: a row written before wrapping existed; the server wraps those when it starts.
ALTER TABLE management_keys ADD COLUMN wrapped BIGINT NOT NULL DEFAULT 0;
