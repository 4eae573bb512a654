//! The renewal's own statements beyond `Store`'s order reads: numbering and opening orders,
//! payments taken, certificates issued and looked up, invoices, the management key's count.

use super::sql::{self, Error, Tx};
use super::Store;

/// What an application writes as its order (the trigger writes the audit record applied →
/// awaiting payment, by the applicant).
pub struct NewOrder<'a> {
    pub number: &'a str,
    pub fingerprint: &'a str,
    pub serial: &'a str,
    pub subject: &'a str,
    pub old_cert: &'a [u8],
    pub old_not_after: i64,
    pub period_months: i64,
    pub fee_fen: i64,
    pub new_not_after: i64,
    pub form_json: &'a str,
    pub operator_name: &'a str,
    pub status: &'a str,
    pub at: i64,
    pub token_hash: &'a str,
}

/// A new payment row (pending).
pub struct NewPayment<'a> {
    pub id: &'a str,
    pub order: &'a str,
    pub method: &'a str,
    pub amount_fen: i64,
    pub invoice_title: &'a str,
    pub taxpayer_id: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

fn invoice_view(r: &sql::Row) -> Result<api::InvoiceView, Error> {
    Ok(api::InvoiceView {
        number: r.try_get("number")?,
        issued_at: r.try_get("issued_at")?,
        buyer_title: r.try_get("buyer_title")?,
        buyer_taxpayer_id: r.try_get("buyer_taxpayer_id")?,
        item: r.try_get("item")?,
        amount_fen: r.try_get("amount_fen")?,
        tax_fen: r.try_get("tax_fen")?,
        total_fen: r.try_get("total_fen")?,
    })
}

impl Store {
    /// A certificate's recorded DER and revocation time, by serial.
    pub async fn certificate_der(
        &self,
        serial: &str,
    ) -> Result<Option<(Vec<u8>, Option<i64>)>, Error> {
        sql::query("SELECT der, revoked_at FROM certificates WHERE serial = $1")
            .bind(serial)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| Ok((r.try_get("der")?, r.try_get("revoked_at")?)))
            .transpose()
    }

    /// A certificate's revocation (time, reason), `Some(None)` when it is good, `None` when
    /// this CA has no such certificate.
    pub async fn revocation_of(
        &self,
        serial: &str,
    ) -> Result<Option<Option<(i64, Option<i64>)>>, Error> {
        sql::query("SELECT revoked_at, revocation_reason FROM certificates WHERE serial = $1")
            .bind(serial)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| {
                let at: Option<i64> = r.try_get("revoked_at")?;
                Ok(match at {
                    Some(at) => Some((at, r.try_get("revocation_reason")?)),
                    None => None,
                })
            })
            .transpose()
    }

    /// The end of a certificate that is not revoked.
    pub async fn unrevoked_not_after(&self, serial: &str) -> Result<Option<i64>, Error> {
        sql::query("SELECT not_after FROM certificates WHERE serial = $1 AND revoked_at IS NULL")
            .bind(serial)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("not_after"))
            .transpose()
    }

    /// The order's invoice, once issued.
    pub async fn invoice_of(&self, number: &str) -> Result<Option<api::InvoiceView>, Error> {
        sql::query("SELECT * FROM invoices WHERE order_number = $1")
            .bind(number)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| invoice_view(&r))
            .transpose()
    }

    /// Counts one more management-key answer for an issued order, below `limit`; false when
    /// the order is not issued or the limit is reached (one statement: parallel requests cannot
    /// pass it).
    pub async fn count_management_answer(
        &self,
        number: &str,
        issued: &str,
        limit: i64,
    ) -> Result<bool, Error> {
        Ok(sql::query("UPDATE orders SET management_answers = management_answers + 1 WHERE number = $1 AND status = $2 AND management_answers < $3")
            .bind(number)
            .bind(issued)
            .bind(limit)
            .execute(&self.writer)
            .await?
            .rows_affected()
            == 1)
    }

    /// A payment the provider could not create: closed.
    pub async fn close_payment(&self, id: &str) -> Result<(), Error> {
        sql::query("UPDATE payments SET status = 'closed' WHERE id = $1 AND status = 'pending'")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// What the provider gave for a payment: the QR code's text and the cashier link.
    pub async fn set_payment_codes(
        &self,
        id: &str,
        qr_payload: Option<String>,
        pay_url: Option<String>,
    ) -> Result<(), Error> {
        sql::query("UPDATE payments SET qr_payload = $1, pay_url = $2 WHERE id = $3")
            .bind(qr_payload)
            .bind(pay_url)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

/// The day's next order sequence number.
pub async fn next_order_seq(tx: &mut Tx, day: &str) -> Result<i64, Error> {
    sql::query("INSERT INTO order_seq (day, last) VALUES ($1, 1) ON CONFLICT (day) DO UPDATE SET last = order_seq.last + 1 RETURNING last")
        .bind(day)
        .fetch_one(&mut *tx)
        .await?
        .try_get("last")
}

/// Writes a new order (a unique violation: the certificate already has an open one).
pub async fn insert_order(tx: &mut Tx, o: &NewOrder<'_>) -> Result<(), Error> {
    sql::query(
        "INSERT INTO orders (number, cert_fingerprint, cert_serial, subject, old_cert, old_not_after, period_months, fee_fen, new_not_after, form_json, operator_name, status, open, applied_at, updated_at, token_hash, actor)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13, $14, 'applicant')",
    )
    .bind(o.number)
    .bind(o.fingerprint)
    .bind(o.serial)
    .bind(o.subject)
    .bind(o.old_cert.to_vec())
    .bind(o.old_not_after)
    .bind(o.period_months)
    .bind(o.fee_fen)
    .bind(o.new_not_after)
    .bind(o.form_json)
    .bind(o.operator_name)
    .bind(o.status)
    .bind(o.at)
    .bind(o.token_hash)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Ends an order's pending payments as `closed` (the order no longer takes them) or `expired`
/// (its time to pay passed); them (id, method), to close at their provider.
pub async fn end_pending_payments(
    tx: &mut Tx,
    number: &str,
    ended: Ended,
) -> Result<Vec<(String, String)>, Error> {
    let text = match ended {
        Ended::Closed => "UPDATE payments SET status = 'closed' WHERE order_number = $1 AND status = 'pending' RETURNING id, method",
        Ended::Expired => "UPDATE payments SET status = 'expired' WHERE order_number = $1 AND status = 'pending' RETURNING id, method",
    };
    sql::query(text)
        .bind(number)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("method")?)))
        .collect()
}

/// How a pending payment ends without money.
#[derive(Clone, Copy)]
pub enum Ended {
    Closed,
    Expired,
}

/// How many payments the order has made.
pub async fn payments_made(tx: &mut Tx, number: &str) -> Result<i64, Error> {
    sql::query("SELECT COUNT(*) AS n FROM payments WHERE order_number = $1")
        .bind(number)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")
}

pub async fn insert_payment(tx: &mut Tx, p: &NewPayment<'_>) -> Result<(), Error> {
    sql::query("INSERT INTO payments (id, order_number, method, amount_fen, invoice_title, taxpayer_id, status, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)")
        .bind(p.id)
        .bind(p.order)
        .bind(p.method)
        .bind(p.amount_fen)
        .bind(p.invoice_title)
        .bind(p.taxpayer_id)
        .bind(p.created_at)
        .bind(p.expires_at)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The order's status, read in the transaction.
pub async fn order_status_in(tx: &mut Tx, number: &str) -> Result<String, Error> {
    sql::query("SELECT status FROM orders WHERE number = $1")
        .bind(number)
        .fetch_one(&mut *tx)
        .await?
        .try_get("status")
}

/// Money of a wrong amount, for the review console to settle (once per trade).
pub async fn record_wrong_amount(
    tx: &mut Tx,
    payment: &str,
    order: &str,
    amount_fen: i64,
    expected_fen: i64,
    trade_no: &str,
    at: i64,
) -> Result<(), Error> {
    sql::query("INSERT INTO payment_discrepancies (payment_id, order_number, kind, amount_fen, expected_fen, trade_no, at) VALUES ($1, $2, 'wrong_amount', $3, $4, $5, $6) ON CONFLICT (trade_no, kind) DO NOTHING")
        .bind(payment)
        .bind(order)
        .bind(amount_fen)
        .bind(expected_fen)
        .bind(trade_no)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Takes a pending payment as paid; false when it was not pending.
pub async fn take_pending_payment(
    tx: &mut Tx,
    id: &str,
    trade_no: &str,
    at: i64,
) -> Result<bool, Error> {
    Ok(sql::query("UPDATE payments SET status = 'paid', paid_at = $1, trade_no = $2 WHERE id = $3 AND status = 'pending'")
        .bind(at)
        .bind(trade_no)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1)
}

/// Money for a closed payment: its trade recorded (to be refunded); false when it was not closed.
pub async fn record_late_money(
    tx: &mut Tx,
    id: &str,
    trade_no: &str,
    at: i64,
) -> Result<bool, Error> {
    Ok(sql::query("UPDATE payments SET paid_at = $1, trade_no = $2 WHERE id = $3 AND status IN ('expired', 'closed')")
        .bind(at)
        .bind(trade_no)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1)
}

/// Whether the certificate the order renews is revoked, read in the transaction.
pub async fn order_certificate_revoked(tx: &mut Tx, number: &str) -> Result<bool, Error> {
    Ok(sql::query("SELECT c.revoked_at FROM orders o JOIN certificates c ON c.serial = o.cert_serial WHERE o.number = $1")
        .bind(number)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get::<Option<i64>>("revoked_at"))
        .transpose()?
        .flatten()
        .is_some())
}

/// Records a certificate issued by renewing `renews`.
pub async fn insert_renewed_certificate(
    tx: &mut Tx,
    serial: &str,
    subject: &str,
    not_after: i64,
    der: &[u8],
    renews: &str,
) -> Result<(), Error> {
    sql::query("INSERT INTO certificates (serial, subject, not_after, der, renews) VALUES ($1, $2, $3, $4, $5)")
        .bind(serial)
        .bind(subject)
        .bind(not_after)
        .bind(der.to_vec())
        .bind(renews)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Files the token's management key under the certificate it now holds.
pub async fn carry_management_key(
    tx: &mut Tx,
    new_serial: &str,
    old_serial: &str,
    t: i64,
) -> Result<(), Error> {
    sql::query("INSERT INTO management_keys (cert_serial, algorithm, key_bytes, wrapped, created_at) SELECT $1, algorithm, key_bytes, wrapped, $2 FROM management_keys WHERE cert_serial = $3 ON CONFLICT (cert_serial) DO NOTHING")
        .bind(new_serial)
        .bind(t)
        .bind(old_serial)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
