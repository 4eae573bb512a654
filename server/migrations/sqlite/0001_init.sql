-- certrenew schema, SQLite. Times are Unix seconds, money is integer fen.

-- One-time challenges for proof of possession; used_at set once, in the application's transaction.
CREATE TABLE challenges (
    id TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

-- Every certificate this CA issued (demo, renewals); revoked ones cannot apply.
CREATE TABLE certificates (
    serial TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    not_after BIGINT NOT NULL,
    der BLOB NOT NULL,
    revoked_at BIGINT,
    reminded_at BIGINT
);

CREATE TABLE orders (
    number TEXT PRIMARY KEY,
    cert_fingerprint TEXT NOT NULL,
    cert_serial TEXT NOT NULL,
    subject TEXT NOT NULL,
    old_cert BLOB NOT NULL,
    old_not_after BIGINT NOT NULL,
    period_months BIGINT NOT NULL,
    fee_fen BIGINT NOT NULL,
    new_not_after BIGINT NOT NULL,
    form_json TEXT NOT NULL,
    operator_name TEXT NOT NULL,
    status TEXT NOT NULL,
    open BIGINT NOT NULL,
    applied_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    remarks TEXT NOT NULL DEFAULT '',
    token_hash TEXT NOT NULL,
    issued_cert BLOB,
    issued_key TEXT,
    issued_at BIGINT,
    installed_at BIGINT
);
-- At most one open order per certificate, enforced by the database (races included).
CREATE UNIQUE INDEX orders_one_open ON orders (cert_fingerprint) WHERE open = 1;
CREATE INDEX orders_status ON orders (status, updated_at);

-- Per-day sequence for business order numbers.
CREATE TABLE order_seq (
    day TEXT PRIMARY KEY,
    last BIGINT NOT NULL
);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    order_number TEXT NOT NULL REFERENCES orders (number),
    method TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    invoice_title TEXT NOT NULL,
    taxpayer_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    paid_at BIGINT,
    trade_no TEXT,
    refunded_at BIGINT
);
CREATE INDEX payments_order ON payments (order_number);

-- Who changed what, when: one row per order transition, written in the same transaction.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_number TEXT NOT NULL,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_order ON audit (order_number);

-- Issued invoices are immutable: no UPDATE path exists in the code.
CREATE TABLE invoices (
    number TEXT PRIMARY KEY,
    order_number TEXT NOT NULL UNIQUE,
    issued_at BIGINT NOT NULL,
    buyer_title TEXT NOT NULL,
    buyer_taxpayer_id TEXT NOT NULL,
    item TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    tax_fen BIGINT NOT NULL,
    total_fen BIGINT NOT NULL
);

CREATE TABLE invoice_seq (
    id INTEGER PRIMARY KEY,
    last BIGINT NOT NULL
);

-- Notices to send (e-mail, SMS); a worker delivers them and stamps sent_at.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);

CREATE TABLE admins (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL
);

-- Admin sessions: only a hash of the cookie value is stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    csrf TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
