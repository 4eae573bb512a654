//! What the console shows of orders and certificates beyond their rows: audit trails, payments,
//! certificates, notices — read here, assembled into pages by `http::console`.

use super::sql::{self, Error, Row};
use super::Store;

/// A certificate this CA recorded, with what its page needs beyond the summary.
pub struct CertificateRow {
    pub record: api::CertificateRecord,
    pub der: Vec<u8>,
    pub revoked_by: Option<String>,
    pub renews: Option<String>,
}

fn timeline_step(r: &Row) -> Result<api::TimelineStep, Error> {
    Ok(api::TimelineStep {
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        from: r.try_get("from_status")?,
        to: r.try_get("to_status")?,
        note: r.try_get("note")?,
    })
}

fn payment_record(r: &Row) -> Result<api::PaymentRecord, Error> {
    Ok(api::PaymentRecord {
        id: r.try_get("id")?,
        method: crate::payment::stored_method(&r.try_get::<String>("method")?),
        amount_fen: r.try_get("amount_fen")?,
        status: r.try_get("status")?,
        trade_no: r.try_get::<Option<String>>("trade_no")?.unwrap_or_default(),
        created_at: r.try_get("created_at")?,
        paid_at: r.try_get("paid_at")?,
        refunded_at: r.try_get("refunded_at")?,
    })
}

pub(super) fn certificate_record(r: &Row, role: &str) -> Result<api::CertificateRecord, Error> {
    Ok(api::CertificateRecord {
        serial: r.try_get("serial")?,
        role: role.to_string(),
        subject: r.try_get("subject")?,
        not_after: r.try_get("not_after")?,
        revoked_at: r.try_get("revoked_at")?,
        revocation_reason: r.try_get("revocation_reason")?,
    })
}

impl Store {
    /// The order's transitions, in order.
    pub async fn timeline(&self, number: &str) -> Result<Vec<api::TimelineStep>, Error> {
        sql::query("SELECT at, actor, from_status, to_status, note FROM audit WHERE order_number = $1 ORDER BY id")
            .bind(number)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(timeline_step)
            .collect()
    }

    /// The order's payments, oldest first, with the provider's trade numbers.
    pub async fn payment_records(&self, number: &str) -> Result<Vec<api::PaymentRecord>, Error> {
        sql::query("SELECT id, method, amount_fen, status, trade_no, created_at, paid_at, refunded_at FROM payments WHERE order_number = $1 ORDER BY created_at")
            .bind(number)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(payment_record)
            .collect()
    }

    /// A certificate's record, named by the part it plays on a page (`renewed`, `issued`).
    pub async fn certificate_record(
        &self,
        serial: &str,
        role: &str,
    ) -> Result<Option<api::CertificateRecord>, Error> {
        sql::query("SELECT serial, subject, not_after, revoked_at, revocation_reason FROM certificates WHERE serial = $1")
            .bind(serial)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| certificate_record(&r, role))
            .transpose()
    }

    /// Notices about the order (they name it in the subject or the text), recipients masked.
    pub async fn order_notices(&self, number: &str) -> Result<Vec<api::NoticeRecord>, Error> {
        sql::query("SELECT kind, recipient, subject, created_at, sent_at FROM outbox WHERE subject LIKE $1 OR body LIKE $1 ORDER BY id LIMIT 50")
            .bind(format!("%{number}%"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(api::NoticeRecord {
                    kind: r.try_get("kind")?,
                    recipient: api::validate::mask(&r.try_get::<String>("recipient")?),
                    subject: r.try_get("subject")?,
                    created_at: r.try_get("created_at")?,
                    sent_at: r.try_get("sent_at")?,
                })
            })
            .collect()
    }

    /// A certificate with its DER, who revoked it and what it renewed.
    pub async fn certificate_row(&self, serial: &str) -> Result<Option<CertificateRow>, Error> {
        let Some(r) = sql::query("SELECT serial, subject, not_after, revoked_at, revocation_reason, revoked_by, renews, der FROM certificates WHERE serial = $1")
            .bind(serial)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(CertificateRow {
            record: certificate_record(&r, "")?,
            der: r.try_get("der")?,
            revoked_by: r.try_get("revoked_by")?,
            renews: r.try_get("renews")?,
        }))
    }

    /// The serials of the certificates that renewed `serial`.
    pub async fn renewals_of(&self, serial: &str) -> Result<Vec<String>, Error> {
        sql::query("SELECT serial FROM certificates WHERE renews = $1 ORDER BY not_after")
            .bind(serial)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("serial"))
            .collect()
    }

    /// The orders that renewed the certificate `serial`, oldest first, with what each issued.
    pub async fn orders_renewing(
        &self,
        serial: &str,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, Error> {
        sql::query(
            "SELECT number, issued_cert FROM orders WHERE cert_serial = $1 ORDER BY applied_at",
        )
        .bind(serial)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("number")?, r.try_get("issued_cert")?)))
        .collect()
    }
}
