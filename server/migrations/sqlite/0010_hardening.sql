-- Lineage: the serial of the certificate a renewal replaced. Prefill follows it (never a subject
-- text match), and a certificate is renewed once.
ALTER TABLE certificates ADD COLUMN renews TEXT;
CREATE INDEX certificates_renews ON certificates (renews);
CREATE INDEX orders_cert_serial ON orders (cert_serial);
-- Renewals issued before this column: the issued transition's audit note is the new serial.
UPDATE certificates SET renews = x.old FROM (SELECT a.note AS serial, o.cert_serial AS old FROM audit a JOIN orders o ON o.number = a.order_number WHERE a.to_status = 'issued') AS x WHERE certificates.serial = x.serial AND certificates.renews IS NULL;
-- Management-key answers given for an issued order: a few, soon after issuance.
ALTER TABLE orders ADD COLUMN management_answers BIGINT NOT NULL DEFAULT 0;
-- Money the provider reported that the order could not take as it came (wrong amount): kept
-- for a person to settle in the review console, never dropped. One row per trade and kind.
CREATE TABLE payment_discrepancies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id TEXT NOT NULL,
    order_number TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    expected_fen BIGINT NOT NULL,
    trade_no TEXT NOT NULL,
    at BIGINT NOT NULL,
    resolved_at BIGINT,
    UNIQUE (trade_no, kind)
);
CREATE INDEX payment_discrepancies_open ON payment_discrepancies (resolved_at, at);
