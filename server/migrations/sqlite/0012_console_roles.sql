-- Console roles: reviewer (approve, reject), operator (revoke, refunds, resend), auditor (read
-- only); a comma-separated set. Administrators from before roles could do everything.
ALTER TABLE admins ADD COLUMN roles TEXT NOT NULL DEFAULT 'reviewer,operator';
-- Every console action, and every view of unmasked personal data, by whom and when.
CREATE TABLE console_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    username TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX console_audit_at ON console_audit (at);
-- The console searches all orders, newest first.
CREATE INDEX orders_applied ON orders (applied_at);
