-- The periodic jobs' queries, each served by an index: without them every run scanned tables that
-- only grow (each reminder scanned all orders and all certificates twice; each outbox run every
-- notice ever sent). The partial ones hold only what is still to do.
CREATE INDEX certificates_subject ON certificates (subject, not_after);
CREATE INDEX certificates_to_remind ON certificates (not_after) WHERE revoked_at IS NULL AND reminded_at IS NULL;
CREATE INDEX orders_subject ON orders (subject, applied_at);
CREATE INDEX payments_pending ON payments (created_at) WHERE status = 'pending';
CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;
