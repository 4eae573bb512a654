//! W10: the install — the certificate issued for the token's CSR, the token's management key
//! answered for (the CA holds it), the install confirmed by a signature of the new key.

use super::order::{illegal, refuse_revoked, view, view_of, B64};
use crate::error::{AppError, AppResult};
use crate::store::{transition, Order, Step, TransitionError};
use crate::{now, sha256_hex, State};
use api::{Event, OrderStatus, OrderView};
use base64::Engine;
use der::{Decode, Encode};
use x509_cert::Certificate;

/// W10: the certificate for the order's CSR (the same one again for the same key).
pub async fn issue(s: &State, o: &Order, req: &api::IssueRequest) -> AppResult<api::IssueResponse> {
    let number = o.number.clone();
    if !matches!(o.status, OrderStatus::Approved | OrderStatus::Issued) {
        return Err(illegal(o, "issue a certificate for"));
    }
    refuse_revoked(s, &o.cert_serial).await?;
    let csr = B64
        .decode(&req.csr)
        .map_err(|_| AppError::bad("csr", "csr is not base64"))?;
    let csr = ccid::cert::Csr::parse(&csr).map_err(|e| AppError::bad("csr", e.to_string()))?;
    let key = csr.key().clone();
    let old = Certificate::from_der(&o.old_cert).map_err(|e| AppError::Internal(e.to_string()))?;
    let old_key = ccid::cert::public_key(&old).map_err(|e| AppError::Internal(e.to_string()))?;
    // The self-signature proves possession of the key. For the certificate's own key the
    // application already proved that for this order (its signature over the form and the
    // challenge), so the check is only needed for a new key; it costs a P-256 verification.
    if key != old_key {
        csr.verify_signature_with(crate::sig::verify_sha256)
            .map_err(|e| AppError::bad("csr", e.to_string()))?;
    }
    if csr.subject().to_der().ok() != old.tbs_certificate().subject().to_der().ok() {
        return Err(AppError::bad(
            "subject_mismatch",
            "the request's subject differs from the certificate being renewed",
        ));
    }
    if key != old_key && !s.config.allow_rekey {
        return Err(AppError::bad(
            "key_mismatch",
            "renewal keeps the certificate's key; this request has another key",
        ));
    }
    let key_fp = sha256_hex(&key.to_spki_der().map_err(AppError::Internal)?);
    if o.status == OrderStatus::Issued {
        // Issuing twice for the same order and key returns the same certificate.
        return issued_again(o, &key_fp);
    }
    let t = now();
    let serial = crate::ca::random_serial();
    let der =
        s.ca.issue_renewal(&old, &key, t, o.new_not_after, &serial)?;
    let mut tx = s.db.begin().await?;
    let serial_hex = crate::ca::serial_hex(&serial);
    let step = Step::new(&number, OrderStatus::Approved, Event::Issue, "ca", t)
        .note(&serial_hex)
        .also(crate::store::Also::Issued {
            cert: &der,
            key: &key_fp,
        });
    if let Err(e) = transition(&mut tx, step).await {
        if !matches!(e, TransitionError::Moved { .. }) {
            return Err(e.into());
        }
        // Another request issued first: return what it stored.
        drop(tx);
        let o = s.db.order(&number).await?.ok_or(AppError::NotFound)?;
        return issued_again(&o, &key_fp);
    }
    crate::store::renewals::insert_renewed_certificate(
        &mut tx,
        &crate::ca::serial_hex(&serial),
        &o.subject,
        o.new_not_after,
        &der,
        &o.cert_serial,
    )
    .await?;
    tx.commit().await?;
    Ok(api::IssueResponse {
        certificate: B64.encode(&der),
        not_after: o.new_not_after,
    })
}

/// The certificate an order was already issued, again for the same key (a retry after a pulled
/// token, or a second request that lost the race); another key is refused.
fn issued_again(o: &Order, key_fp: &str) -> AppResult<api::IssueResponse> {
    match (&o.issued_cert, &o.issued_key) {
        (Some(cert), Some(k)) if k == key_fp => Ok(api::IssueResponse {
            certificate: B64.encode(cert),
            not_after: o.new_not_after,
        }),
        _ => Err(AppError::conflict(
            "already_issued",
            "a certificate was already issued for another key",
        )),
    }
}

/// How long after issuance, and how many times, the CA answers for the token's management key:
/// one install needs one answer; a few allow retries (a pulled token, a wrong PIN).
pub const MANAGEMENT_WINDOW_SECS: i64 = 30 * 60;

pub const MANAGEMENT_ANSWERS: i64 = 10;

/// The token's management key, held here, for an issued order being installed: only soon after
/// issuance, and never for a revoked certificate — the key opens the token to any write.
async fn install_key(s: &State, o: &Order) -> AppResult<ccid::keys::ManagementKey> {
    if o.status != OrderStatus::Issued {
        return Err(illegal(o, "authenticate the token of"));
    }
    if o.issued_at
        .is_none_or(|at| now() > at + MANAGEMENT_WINDOW_SECS)
    {
        return Err(AppError::conflict(
            "management_key_expired",
            "the install window of this order has passed; call the CA's hotline",
        ));
    }
    refuse_revoked(s, &o.cert_serial).await?;
    s.db.management_key(&o.cert_serial)
        .await?
        .ok_or(AppError::NotFound)
}

/// Answers the token's management-key witness for the install (DESIGN §7): the browser relays,
/// the key stays here. Only for the order's own token, only while installing.
pub async fn management_answer(
    s: &State,
    o: &Order,
    req: &api::ManagementWitness,
) -> AppResult<api::ManagementAnswer> {
    let number = o.number.as_str();
    let key = install_key(s, o).await?;
    // Counted before answering, in one statement, so parallel requests cannot pass the limit.
    let counted =
        s.db.count_management_answer(number, OrderStatus::Issued.as_str(), MANAGEMENT_ANSWERS)
            .await?;
    if !counted {
        return Err(AppError::conflict(
            "management_key_expired",
            "the management key was answered for too often; call the CA's hotline",
        ));
    }
    let witness = B64
        .decode(&req.witness)
        .map_err(|_| AppError::bad("witness", "witness is not base64"))?;
    let (plain, challenge) =
        ccid::piv::respond(&key, &witness).map_err(|e| AppError::bad("witness", e.to_string()))?;
    tracing::info!(order = %number, "management-key witness answered");
    Ok(api::ManagementAnswer {
        witness: B64.encode(plain),
        challenge: B64.encode(challenge),
    })
}

/// Checks the token's encrypted challenge: the token knows the key the CA filed for it.
pub async fn management_check(
    s: &State,
    o: &Order,
    req: &api::ManagementCheck,
) -> AppResult<api::ManagementChecked> {
    let key = install_key(s, o).await?;
    let (Ok(challenge), Ok(response)) = (B64.decode(&req.challenge), B64.decode(&req.response))
    else {
        return Err(AppError::bad("challenge", "not base64"));
    };
    let ok = challenge.len() == key.block_size() && key.encrypt(&challenge) == response;
    Ok(api::ManagementChecked { ok })
}

/// W10's end: the token proves it holds the new certificate's key; the order is installed, the
/// invoice issued and the operator told.
pub async fn confirm(s: &State, o: Order, req: &api::ConfirmRequest) -> AppResult<OrderView> {
    let number = o.number.clone();
    if o.status == OrderStatus::Installed {
        return view(s, &o).await;
    }
    if o.status != OrderStatus::Issued {
        return Err(illegal(&o, "confirm installation of"));
    }
    refuse_revoked(s, &o.cert_serial).await?;
    let der = o.issued_cert.clone().ok_or(AppError::Internal(
        "issued order without certificate".into(),
    ))?;
    let summary =
        ccid::cert::summarize(&der, now()).map_err(|e| AppError::Internal(e.to_string()))?;
    // The new certificate may have been revoked before it was installed.
    refuse_revoked(s, &summary.serial).await?;
    let cert = Certificate::from_der(&der).map_err(|e| AppError::Internal(e.to_string()))?;
    let key = ccid::cert::public_key(&cert).map_err(|e| AppError::Internal(e.to_string()))?;
    let sig = B64
        .decode(&req.signature)
        .map_err(|_| AppError::bad("signature", "signature is not base64"))?;
    if !crate::sig::verify_sha256(
        &key,
        &api::install_proof_message(&number, &summary.serial),
        &sig,
    ) {
        return Err(AppError::Forbidden(
            "the token did not prove it holds the new certificate's key",
        ));
    }
    let t = now();
    let payment =
        s.db.paid_payment(&number)
            .await?
            .ok_or(AppError::Internal("installed order without payment".into()))?;
    let form: api::ApplicationForm =
        serde_json::from_str(&o.form_json).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut tx = s.db.begin().await?;
    let step = Step::new(&number, OrderStatus::Issued, Event::Install, "applicant", t);
    transition(&mut tx, step.also(crate::store::Also::Installed)).await?;
    // The token keeps its management key: file it under the certificate it now holds.
    crate::store::renewals::carry_management_key(&mut tx, &summary.serial, &o.cert_serial, t)
        .await?;
    let invoice = super::invoice::issue_invoice(&mut tx, &number, &payment, t).await?;
    let body = format!(
        "您的数字证书续期已完成（业务单号 {number}），新有效期至 {}。电子发票号码 {}，金额 {} 元。\nYour certificate renewal {number} is complete; invoice {} for CNY {}.",
        crate::rfc3339(o.new_not_after),
        invoice.number,
        api::yuan(invoice.total_fen),
        invoice.number,
        api::yuan(invoice.total_fen)
    );
    crate::store::notify_operator(
        &mut tx,
        &form,
        "证书续期完成 / Certificate renewed",
        &body,
        t,
    )
    .await?;
    tx.commit().await?;
    s.metrics.renewals.inc();
    s.outbox_ready.notify_one();
    let o = Order {
        status: OrderStatus::Installed,
        installed_at: Some(t),
        updated_at: t,
        ..o
    };
    view_of(s, &o, Some(payment), Some(invoice)).await
}
