-- Several servers on one database each run the outbox task. A server claims a batch of notices
-- until this time before delivering them, so one notice is sent by one server; a server that dies
-- holding a claim lets it lapse and another sends the notices.
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT;
