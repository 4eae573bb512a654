//! What the console's dashboard, the accounting exports and the metrics read.

use super::sql::{self, Error};
use super::Store;

/// A payment that took money, with its order and invoice (the paid-orders export).
pub struct PaidPayment {
    pub order: String,
    pub subject: String,
    pub payment: String,
    pub method: String,
    pub trade_no: Option<String>,
    pub amount_fen: i64,
    pub paid_at: i64,
    pub status: String,
    pub invoice: Option<String>,
}

/// An issued invoice (the invoices export).
pub struct InvoiceRow {
    pub number: String,
    pub order: String,
    pub issued_at: i64,
    pub buyer_title: String,
    pub buyer_taxpayer_id: String,
    pub item: String,
    pub amount_fen: i64,
    pub tax_fen: i64,
    pub total_fen: i64,
}

impl Store {
    /// (day number, value) for days counted from `offset` seconds east of UTC, since `since`.
    async fn day_sums(
        &self,
        sql_text: &'static str,
        offset: i64,
        day: i64,
        since: i64,
    ) -> Result<Vec<(i64, i64)>, Error> {
        sql::query(sql_text)
            .bind(offset)
            .bind(day)
            .bind(since)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("day")?, r.try_get("v")?)))
            .collect()
    }

    /// Installed renewals per day.
    pub async fn renewals_per_day(
        &self,
        offset: i64,
        day: i64,
        since: i64,
    ) -> Result<Vec<(i64, i64)>, Error> {
        self.day_sums("SELECT (installed_at + $1) / $2 AS day, COUNT(*) AS v FROM orders WHERE installed_at IS NOT NULL AND installed_at >= $3 GROUP BY (installed_at + $1) / $2", offset, day, since).await
    }

    /// Money kept (paid and not, or not yet, refunded) per day, in fen.
    pub async fn revenue_per_day(
        &self,
        offset: i64,
        day: i64,
        since: i64,
    ) -> Result<Vec<(i64, i64)>, Error> {
        self.day_sums("SELECT (paid_at + $1) / $2 AS day, CAST(SUM(amount_fen) AS BIGINT) AS v FROM payments WHERE status = 'paid' AND paid_at >= $3 GROUP BY (paid_at + $1) / $2", offset, day, since).await
    }

    /// How many orders are in each state (states without orders left out).
    pub async fn orders_by_state(&self) -> Result<Vec<(String, i64)>, Error> {
        sql::query("SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY status")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect()
    }

    /// Certificates ending in `[from, to)` that are neither revoked nor already renewed.
    pub async fn expiring_between(&self, from: i64, to: i64) -> Result<i64, Error> {
        sql::query("SELECT COUNT(*) AS n FROM certificates c WHERE c.revoked_at IS NULL AND c.not_after >= $1 AND c.not_after < $2 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.cert_serial = c.serial AND o.status = 'installed')")
            .bind(from)
            .bind(to)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")
    }

    /// Notices not delivered yet.
    pub async fn outbox_backlog(&self) -> Result<i64, Error> {
        sql::query("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")
    }

    /// Every payment that took money, oldest first.
    pub async fn paid_payments(&self) -> Result<Vec<PaidPayment>, Error> {
        sql::query("SELECT o.number, o.subject, p.id, p.method, p.trade_no, p.amount_fen, p.paid_at, p.status, i.number AS invoice FROM payments p JOIN orders o ON o.number = p.order_number LEFT JOIN invoices i ON i.order_number = o.number WHERE p.paid_at IS NOT NULL ORDER BY p.paid_at")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(PaidPayment {
                    order: r.try_get("number")?,
                    subject: r.try_get("subject")?,
                    payment: r.try_get("id")?,
                    method: r.try_get("method")?,
                    trade_no: r.try_get("trade_no")?,
                    amount_fen: r.try_get("amount_fen")?,
                    paid_at: r.try_get("paid_at")?,
                    status: r.try_get("status")?,
                    invoice: r.try_get("invoice")?,
                })
            })
            .collect()
    }

    /// Every invoice issued, oldest first.
    pub async fn invoice_rows(&self) -> Result<Vec<InvoiceRow>, Error> {
        sql::query("SELECT number, order_number, issued_at, buyer_title, buyer_taxpayer_id, item, amount_fen, tax_fen, total_fen FROM invoices ORDER BY issued_at, number")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(InvoiceRow {
                    number: r.try_get("number")?,
                    order: r.try_get("order_number")?,
                    issued_at: r.try_get("issued_at")?,
                    buyer_title: r.try_get("buyer_title")?,
                    buyer_taxpayer_id: r.try_get("buyer_taxpayer_id")?,
                    item: r.try_get("item")?,
                    amount_fen: r.try_get("amount_fen")?,
                    tax_fen: r.try_get("tax_fen")?,
                    total_fen: r.try_get("total_fen")?,
                })
            })
            .collect()
    }
}
