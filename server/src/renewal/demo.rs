//! Demo mode's own steps: certificates for demo tokens and the management keys they set.

use super::order::{not_ours, B64};
use crate::error::{AppError, AppResult};
use crate::{now, random_id, State};
use base64::Engine;
use der::Decode;
use x509_cert::Certificate;

/// The demo's endpoints exist only in demo mode (elsewhere: not found, as any unknown path).
pub fn demo_only(s: &State) -> AppResult<()> {
    if s.config.demo {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Demo mode only: the CA files the management key the browser set on its demo token, so demo
/// renewals go through the server-held key path like personalized tokens.
pub async fn management_key(s: &State, req: &api::DemoManagementKey) -> AppResult<()> {
    let der = B64
        .decode(&req.certificate)
        .map_err(|_| AppError::bad("certificate", "not base64"))?;
    // The certificate says whose key this is: anything but one this CA issued is refused alike.
    let cert = Certificate::from_der(&der).map_err(|_| not_ours())?;
    if !s.ca.issued(&cert) {
        return Err(not_ours());
    }
    let summary = ccid::cert::summarize(&der, now()).map_err(|_| not_ours())?;
    let key_bytes = zeroize::Zeroizing::new(
        B64.decode(&req.key)
            .map_err(|_| AppError::bad("key", "not base64"))?,
    );
    let key = ccid::piv::Algorithm::from_byte(req.algorithm)
        .and_then(|a| ccid::keys::ManagementKey::new(a, &key_bytes).ok())
        .ok_or(AppError::bad("key", "not a management key"))?;
    // Filed once per certificate: a demo user cannot replace the key another one filed.
    if s.db.management_key(&summary.serial).await?.is_some() {
        return Err(AppError::conflict(
            "duplicate",
            "a management key is already filed for this certificate",
        ));
    }
    s.db.set_management_key(&summary.serial, &key, now())
        .await?;
    Ok(())
}

/// Demo mode only: a certificate for a browser demo token, expiring in 30 days so that it is
/// inside the renewal window at once.
pub async fn certificate(
    s: &State,
    req: &api::DemoCertificateRequest,
) -> AppResult<api::IssueResponse> {
    let spki = B64
        .decode(&req.public_key)
        .map_err(|_| AppError::bad("public_key", "not base64"))?;
    let key =
        ccid::keys::PublicKey::from_spki_der(&spki).map_err(|e| AppError::bad("public_key", e))?;
    if !key.on_curve() {
        return Err(AppError::bad("public_key", "the point is not on the curve"));
    }
    let subject: x509_cert::name::Name =
        format!("CN=演示用户{},O=演示医疗器械有限公司,C=CN", &random_id(2))
            .parse()
            .map_err(|e| AppError::Internal(format!("{e:?}")))?;
    let t = now();
    let der = crate::demo_certificate(s, &subject, &key, t - 335 * 86_400, t + 30 * 86_400).await?;
    Ok(api::IssueResponse {
        certificate: B64.encode(&der),
        not_after: t + 30 * 86_400,
    })
}
