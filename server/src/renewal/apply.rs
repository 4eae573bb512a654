//! W5–W7 and W6's prefill: the certificate on the token as the applicant's credential, proved by
//! a signature over a fresh challenge.

use super::order::{check_window, not_ours, today, view_of, B64};
use crate::error::{AppError, AppResult};
use crate::store::Order;
use crate::{random_id, sha256_hex, State};
use api::{OrderStatus, OrderView};
use base64::Engine;
use der::Decode;
use x509_cert::Certificate;

/// W5–W7: a signed application becomes an order awaiting payment. Returns its view and the
/// token that gives access to it (handed out once; only its hash is kept).
pub async fn apply(
    s: &State,
    req: &api::ApplicationRequest,
    t: i64,
) -> AppResult<(OrderView, String)> {
    // The certificate and the signature are the applicant's credentials, checked before the
    // form: whoever cannot prove the key learns nothing from the form's rules. Anything that is
    // not a certificate this CA issued is refused alike.
    let der = B64
        .decode(&req.certificate)
        .map_err(|_| AppError::bad("certificate", "certificate is not base64"))?;
    let cert = Certificate::from_der(&der).map_err(|_| not_ours())?;
    if cert.tbs_certificate().issuer() != s.ca.name() {
        return Err(not_ours());
    }
    let summary = ccid::cert::summarize(&der, t).map_err(|_| not_ours())?;
    let row = s.db.certificate_der(&summary.serial).await?;
    // A certificate byte-identical to one this CA recorded when issuing it needs no signature
    // check (a P-256 verification); any other must carry this CA's signature.
    let recorded = row.as_ref().map(|(d, _)| d.as_slice());
    if recorded != Some(der.as_slice()) && !s.ca.issued(&cert) {
        return Err(not_ours());
    }
    check_window(s, &summary, t)?;
    if row.as_ref().is_some_and(|(_, revoked)| revoked.is_some()) {
        return Err(AppError::Forbidden("this certificate is revoked"));
    }
    // One renewal per certificate: once its successor is installed, that one renews next.
    if s.db.renewed(&summary.serial).await? {
        return Err(AppError::conflict(
            "already_renewed",
            "this certificate was renewed already; renew its successor",
        ));
    }
    let (nonce, challenge_expires) = s
        .challenges
        .check(&req.challenge_id, t, s.config.challenge_ttl_secs)
        .ok_or(AppError::conflict(
            "challenge",
            "the challenge is unknown, used or expired",
        ))?;
    // Proof of possession: the form as submitted, signed by the certificate's key on the token.
    let key = ccid::cert::public_key(&cert).map_err(|_| not_ours())?;
    let sig = B64
        .decode(&req.signature)
        .map_err(|_| AppError::bad("signature", "signature is not base64"))?;
    if !crate::sig::verify_sha256(
        &key,
        &api::canonical_application(&req.form, &nonce, &der),
        &sig,
    ) {
        return Err(AppError::Forbidden(
            "the application's signature does not match the certificate",
        ));
    }
    let form = req.form.validate(today(t)).map_err(AppError::Fields)?;
    let Some(price) = s
        .config
        .prices()
        .options
        .into_iter()
        .find(|p| p.months == form.period_months)
    else {
        return Err(AppError::Fields(vec![(
            "period_months".into(),
            api::validate::Invalid::Format,
        )]));
    };
    let token = random_id(16);
    // Never past the CA's own certificate (RFC 5280 §6: a chain is valid only while all are).
    let new_not_after =
        crate::add_months(summary.not_after, form.period_months).min(s.ca.not_after());
    let mut tx = s.db.begin().await?;
    if !crate::challenge::consume(&mut tx, &req.challenge_id, challenge_expires).await? {
        return Err(AppError::conflict(
            "challenge",
            "the challenge was already used",
        ));
    }
    let (y, m, d) = crate::china_date(t);
    let day = format!("{y:04}{m:02}{d:02}");
    let seq = crate::store::renewals::next_order_seq(&mut tx, &day).await?;
    let number = format!("01{day}{seq:07}");
    // Hashed once: bound in the INSERT and kept in the order view built afterwards.
    let (fingerprint, token_hash) = (sha256_hex(&der), sha256_hex(token.as_bytes()));
    let form_json = serde_json::to_string(&form).map_err(|e| AppError::Internal(e.to_string()))?;
    let new_order = crate::store::renewals::NewOrder {
        number: &number,
        fingerprint: &fingerprint,
        serial: &summary.serial,
        subject: &summary.subject,
        old_cert: &der,
        old_not_after: summary.not_after,
        period_months: i64::from(form.period_months),
        fee_fen: price.fee_fen,
        new_not_after,
        form_json: &form_json,
        operator_name: &form.operator.name,
        status: OrderStatus::AwaitingPayment.as_str(),
        at: t,
        token_hash: &token_hash,
    };
    let inserted = crate::store::renewals::insert_order(&mut tx, &new_order).await;
    if let Err(e) = &inserted {
        if e.is_unique_violation() {
            return Err(AppError::conflict(
                "open_order",
                "this certificate already has an open renewal order",
            ));
        }
    }
    inserted?;
    tx.commit().await?;
    tracing::info!(order = %number, serial = %summary.serial, operator_id = %api::validate::mask(&form.operator.id_number), "application accepted");
    // The order as just written: no read back, and no payment yet to look up.
    let order = Order {
        number: number.clone(),
        cert_fingerprint: fingerprint,
        cert_serial: summary.serial.clone(),
        subject: summary.subject.clone(),
        old_cert: der,
        old_not_after: summary.not_after,
        period_months: i64::from(form.period_months),
        fee_fen: price.fee_fen,
        new_not_after,
        form_json,
        operator_name: form.operator.name.clone(),
        status: OrderStatus::AwaitingPayment,
        applied_at: t,
        updated_at: t,
        remarks: String::new(),
        issued_cert: None,
        issued_key: None,
        issued_at: None,
        installed_at: None,
        token_hash,
    };
    Ok((view_of(s, &order, None, None).await?, token))
}

/// The details of the last renewal along this certificate's own line (the certificates it
/// renewed, back to the first), for the holder of its key only, and only while the certificate is
/// good: never by subject text, never for a revoked or expired one. The ID number comes masked.
pub async fn prefill(s: &State, req: &api::PrefillRequest, t: i64) -> AppResult<api::Prefill> {
    let der = B64
        .decode(&req.certificate)
        .map_err(|_| AppError::bad("certificate", "certificate is not base64"))?;
    // The certificate is the caller's credential: anything but one this CA recorded is refused
    // alike.
    let cert = Certificate::from_der(&der).map_err(|_| not_ours())?;
    let summary = ccid::cert::summarize(&der, t).map_err(|_| not_ours())?;
    // Only a certificate this CA recorded, byte for byte (which also proves it issued it).
    let row = s.db.certificate_der(&summary.serial).await?;
    let Some((_, revoked_at)) = row.filter(|(recorded, _)| recorded[..] == der[..]) else {
        return Err(not_ours());
    };
    if revoked_at.is_some() {
        return Err(AppError::conflict(
            "certificate_revoked",
            "this certificate is revoked",
        ));
    }
    if summary.expired {
        return Err(AppError::Expired);
    }
    let key = ccid::cert::public_key(&cert).map_err(|_| not_ours())?;
    let sig = B64
        .decode(&req.signature)
        .map_err(|_| AppError::bad("signature", "signature is not base64"))?;
    let spent = || AppError::conflict("challenge", "the challenge is unknown, used or expired");
    let (nonce, expires) = s
        .challenges
        .check(&req.challenge_id, t, s.config.challenge_ttl_secs)
        .ok_or_else(spent)?;
    if !crate::sig::verify_sha256(&key, &api::prefill_message(&nonce, &der), &sig) {
        return Err(AppError::Forbidden(
            "the signature does not match the certificate",
        ));
    }
    if !s.db.consume_challenge(&req.challenge_id, expires).await? {
        return Err(spent());
    }
    let line = s.db.lineage(&summary.serial).await?;
    let Some(number) = s.db.last_order_of(&line).await? else {
        return Ok(api::Prefill::default());
    };
    let Some(last) = s.db.order(&number).await? else {
        return Ok(api::Prefill::default());
    };
    let form = serde_json::from_str::<api::ApplicationForm>(&last.form_json)
        .ok()
        .map(|mut f| {
            f.operator.id_number = api::validate::mask(&f.operator.id_number);
            f
        });
    let payment = s.db.latest_payment(&number).await?;
    tracing::info!(order = %number, "details of the previous renewal shown to the key holder");
    Ok(api::Prefill {
        form,
        invoice_title: payment.as_ref().map(|p| p.invoice_title.clone()),
        taxpayer_id: payment.map(|p| p.taxpayer_id),
    })
}
