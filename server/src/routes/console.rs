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
        order: admin_order(o, revoked),
        form,
        timeline,
        payments,
        refunds: crate::refund::of_order(s, &number).await?,
        certificates,
        notices,
    })
}

/// A certificate's page (`None`: not one this CA recorded).
pub async fn certificate_detail(
    s: &State,
    serial: &str,
) -> Result<Option<api::CertificateDetail>, sql::Error> {
    let Some(r) = sql::query("SELECT serial, subject, not_after, revoked_at, revocation_reason, revoked_by, renews, der FROM certificates WHERE serial = $1")
        .bind(serial)
        .fetch_optional(&s.db.pool)
        .await?
    else {
        return Ok(None);
    };
    let der: Vec<u8> = r.try_get("der")?;
    let summary = ccid::cert::summarize(&der, 0).ok();
    let revoked_at: Option<i64> = r.try_get("revoked_at")?;
    let renews: Option<String> = r.try_get("renews")?;
    let renewed_by =
        sql::query("SELECT serial FROM certificates WHERE renews = $1 ORDER BY not_after")
            .bind(serial)
            .fetch_all(&s.db.pool)
            .await?
            .iter()
            .map(|r| r.try_get("serial"))
            .collect::<Result<Vec<String>, _>>()?;
    // The orders that renewed it, then the one (renewing its predecessor) that issued it.
    let mut numbers =
        sql::query("SELECT number FROM orders WHERE cert_serial = $1 ORDER BY applied_at")
            .bind(serial)
            .fetch_all(&s.db.pool)
            .await?
            .iter()
            .map(|r| r.try_get("number"))
            .collect::<Result<Vec<String>, _>>()?;
    if let Some(prev) = &renews {
        let rows = sql::query("SELECT number, issued_cert FROM orders WHERE cert_serial = $1")
            .bind(prev)
            .fetch_all(&s.db.pool)
            .await?;
        for o in rows {
            if o.try_get::<Option<Vec<u8>>>("issued_cert")?.as_deref() == Some(&der[..]) {
                numbers.push(o.try_get("number")?);
            }
        }
    }
    let mut orders = vec![];
    for n in numbers {
        if let Some(o) = s.db.order(&n).await? {
            orders.push(admin_order(o, revoked_at));
        }
    }
    use sha2::Digest;
    let fingerprint = sha2::Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    Ok(Some(api::CertificateDetail {
        certificate: api::CertificateRecord {
            serial: r.try_get("serial")?,
            role: String::new(),
            subject: r.try_get("subject")?,
            not_after: r.try_get("not_after")?,
            revoked_at,
            revocation_reason: r.try_get("revocation_reason")?,
        },
        issuer: summary
            .as_ref()
            .map(|s| s.issuer.clone())
            .unwrap_or_default(),
        not_before: summary.as_ref().map_or(0, |s| s.not_before),
        key: match summary.map(|s| s.key) {
            Some(ccid::piv::Algorithm::Rsa2048) => "rsa2048".into(),
            Some(ccid::piv::Algorithm::EccP256) => "p256".into(),
            _ => String::new(),
        },
        fingerprint,
        revoked_by: r.try_get("revoked_by")?,
        renews,
        renewed_by,
        orders,
        pem: pem_certificate(&der),
    }))
}

/// RFC 7468 text of a certificate (64 base64 characters a line), for the operator to copy.
fn pem_certificate(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// An order with its personal data masked.
pub(crate) fn admin_order(o: Order, certificate_revoked_at: Option<i64>) -> api::AdminOrder {
    let form: api::ApplicationForm = serde_json::from_str(&o.form_json).unwrap_or_default();
    api::AdminOrder {
        number: o.number,
        subject: o.subject,
        status: o.status,
        fee_fen: o.fee_fen,
        applied_at: o.applied_at,
        operator_name: o.operator_name,
        operator_id: api::validate::mask(&form.operator.id_number),
        operator_mobile: api::validate::mask(&form.operator.mobile),
        certificate_revoked_at,
    }
}
