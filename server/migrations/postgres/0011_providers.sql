-- Payments are made at a provider: the QR payload or page it gave is kept to show again.
ALTER TABLE payments ADD COLUMN qr_payload TEXT;
ALTER TABLE payments ADD COLUMN pay_url TEXT;
-- Refunds are asked of the provider and followed until it confirms; `id` is the provider's
-- idempotency key (out_request_no / out_refund_no), so asking again never refunds twice.
CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL UNIQUE REFERENCES payments (id),
    order_number TEXT NOT NULL REFERENCES orders (number),
    amount_fen BIGINT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    next_at BIGINT NOT NULL,
    done_at BIGINT
);
CREATE INDEX refunds_due ON refunds (next_at) WHERE status = 'pending';
-- Reconciliation asks about payments closed before any money was seen, for a few hours.
CREATE INDEX payments_closed_unpaid ON payments (created_at) WHERE status IN ('closed', 'expired') AND trade_no IS NULL;
-- The sandbox is a local Alipay: its books as Alipay keeps them.
DROP TABLE sandbox_trades;
CREATE TABLE sandbox_alipay_trades (
    out_trade_no TEXT PRIMARY KEY,
    trade_no TEXT NOT NULL,
    total_fen BIGINT NOT NULL,
    subject TEXT NOT NULL,
    notify_url TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    paid_at BIGINT
);
CREATE TABLE sandbox_alipay_refunds (
    out_trade_no TEXT NOT NULL,
    out_request_no TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (out_trade_no, out_request_no)
);
