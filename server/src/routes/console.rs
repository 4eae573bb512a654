//! What the console shows of an order beyond its row: read from the order's audit trail,
//! payments, refunds, certificates and notices.

use crate::db::Order;
use crate::sql::{self, Row};
use crate::State;

fn timeline_step(r: &Row) -> Result<api::TimelineStep, sql::Error> {
    Ok(api::TimelineStep {
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        from: r.try_get("from_status")?,
        to: r.try_get("to_status")?,
        note: r.try_get("note")?,
    })
}

fn payment_record(r: &Row) -> Result<api::PaymentRecord, sql::Error> {
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

async fn certificate(
    s: &State,
    serial: &str,
    role: &str,
) -> Result<Option<api::CertificateRecord>, sql::Error> {
    let row = sql::query("SELECT serial, subject, not_after, revoked_at, revocation_reason FROM certificates WHERE serial = $1")
        .bind(serial)
        .fetch_optional(&s.db.pool)
        .await?;
    row.map(|r| {
        Ok(api::CertificateRecord {
            serial: r.try_get("serial")?,
            role: role.to_string(),
            subject: r.try_get("subject")?,
            not_after: r.try_get("not_after")?,
            revoked_at: r.try_get("revoked_at")?,
            revocation_reason: r.try_get("revocation_reason")?,
        })
    })
    .transpose()
}

/// The order's page, its form given only when the caller may see it.
pub async fn order_detail(
    s: &State,
    o: Order,
    form: Option<api::ApplicationForm>,
) -> Result<api::OrderDetail, sql::Error> {
    let number = o.number.clone();
    let timeline = sql::query("SELECT at, actor, from_status, to_status, note FROM audit WHERE order_number = $1 ORDER BY id")
        .bind(&number)
        .fetch_all(&s.db.pool)
        .await?
        .iter()
        .map(timeline_step)
        .collect::<Result<_, _>>()?;
    let payments = sql::query("SELECT id, method, amount_fen, status, trade_no, created_at, paid_at, refunded_at FROM payments WHERE order_number = $1 ORDER BY created_at")
        .bind(&number)
        .fetch_all(&s.db.pool)
        .await?
        .iter()
        .map(payment_record)
        .collect::<Result<_, _>>()?;
    let mut certificates = vec![];
    certificates.extend(certificate(s, &o.cert_serial, "renewed").await?);
    if let Some(der) = &o.issued_cert {
        if let Ok(summary) = ccid::cert::summarize(der, 0) {
            certificates.extend(certificate(s, &summary.serial, "issued").await?);
        }
    }
    // Notices name their order in the subject or the text.
    let notices = sql::query("SELECT kind, recipient, subject, created_at, sent_at FROM outbox WHERE subject LIKE $1 OR body LIKE $1 ORDER BY id LIMIT 50")
        .bind(format!("%{number}%"))
        .fetch_all(&s.db.pool)
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
        .collect::<Result<_, sql::Error>>()?;
    let revoked = certificates
        .iter()
        .find(|c| c.role == "renewed")
        .and_then(|c| c.revoked_at);
    Ok(api::OrderDetail {
        order: super::admin::admin_order(o, revoked),
        form,
        timeline,
        payments,
        refunds: crate::refund::of_order(s, &number).await?,
        certificates,
        notices,
    })
}
