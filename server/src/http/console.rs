//! What the console shows of an order beyond its row: read from the order's audit trail,
//! payments, refunds, certificates and notices.

use crate::store::sql;
use crate::store::Order;
use crate::State;

/// The order's page, its form given only when the caller may see it.
pub async fn order_detail(
    s: &State,
    o: Order,
    form: Option<api::ApplicationForm>,
) -> Result<api::OrderDetail, sql::Error> {
    let number = o.number.clone();
    let timeline = s.db.timeline(&number).await?;
    let payments = s.db.payment_records(&number).await?;
    let mut certificates = vec![];
    certificates.extend(s.db.certificate_record(&o.cert_serial, "renewed").await?);
    if let Some(der) = &o.issued_cert {
        if let Ok(summary) = ccid::cert::summarize(der, 0) {
            certificates.extend(s.db.certificate_record(&summary.serial, "issued").await?);
        }
    }
    let notices = s.db.order_notices(&number).await?;
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
    let Some(row) = s.db.certificate_row(serial).await? else {
        return Ok(None);
    };
    let der = row.der;
    let summary = ccid::cert::summarize(&der, 0).ok();
    let revoked_at = row.record.revoked_at;
    let renews = row.renews;
    let renewed_by = s.db.renewals_of(serial).await?;
    let orders = certificate_orders(s, serial, renews.as_deref(), &der, revoked_at).await?;
    use sha2::Digest;
    let fingerprint = sha2::Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    Ok(Some(api::CertificateDetail {
        certificate: row.record,
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
        revoked_by: row.revoked_by,
        renews,
        renewed_by,
        orders,
        pem: pem_certificate(&der),
    }))
}

/// The orders that renewed a certificate, then the one (renewing its predecessor) that issued it.
async fn certificate_orders(
    s: &State,
    serial: &str,
    renews: Option<&str>,
    der: &[u8],
    revoked_at: Option<i64>,
) -> Result<Vec<api::AdminOrder>, sql::Error> {
    let mut numbers: Vec<String> =
        s.db.orders_renewing(serial)
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
    if let Some(prev) = renews {
        for (n, issued) in s.db.orders_renewing(prev).await? {
            if issued.as_deref() == Some(der) {
                numbers.push(n);
            }
        }
    }
    let mut orders = vec![];
    for n in numbers {
        if let Some(o) = s.db.order(&n).await? {
            orders.push(admin_order(o, revoked_at));
        }
    }
    Ok(orders)
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
