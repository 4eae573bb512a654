-- The sandbox payment provider's own books: one row per trade a person paid at its cashier.
-- A real provider keeps these on its side; the sandbox needs them to answer trade queries
-- (reconciliation of payments whose notice never arrived).
CREATE TABLE sandbox_trades (
    payment_id TEXT PRIMARY KEY,
    trade_no TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    paid_at BIGINT NOT NULL
);
