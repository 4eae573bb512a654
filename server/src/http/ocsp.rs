//! The OCSP responder's HTTP side (RFC 6960 Appendix A, RFC 5019): requests over POST and GET,
//! answers cached while reusable, signatures rate-limited per client.

use crate::{now, sha256_hex, State};
use axum::extract::{ConnectInfo, Path};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// OCSP over POST (RFC 6960 Appendix A.1): the DER request is the body.
pub async fn post(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    body: axum::body::Bytes,
) -> Response {
    ocsp_answer(&s, addr, &body, false).await
}

/// OCSP over GET: the request in base64 (then URL-encoded) as the rest of the path.
pub async fn get(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Path(request): Path<String>,
) -> Response {
    match B64.decode(request.trim_start_matches('/')) {
        Ok(der) => ocsp_answer(&s, addr, &der, true).await,
        Err(_) => ocsp_reply(crate::ocsp::malformed()),
    }
}

fn ocsp_reply(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/ocsp-response")], body).into_response()
}

/// A reusable answer (no nonce) over GET carries RFC 5019 §6.2's caching headers, so HTTP
/// caches and CDNs in front of the responder can serve it until its nextUpdate.
fn ocsp_reply_cacheable(answer: crate::ocsp::Cached, get: bool, now: i64) -> Response {
    let mut r = ocsp_reply(answer.der.to_vec());
    if !get {
        return r;
    }
    let expires = answer.produced_at + crate::ocsp::NEXT_UPDATE_SECS;
    let date = |t: i64| {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0).unsigned_abs());
        header::HeaderValue::from_str(&httpdate::fmt_http_date(at))
    };
    let tag = &sha256_hex(&answer.der)[..32];
    let h = r.headers_mut();
    let values = [
        (
            header::CACHE_CONTROL,
            header::HeaderValue::from_str(&format!(
                "max-age={}, public, no-transform, must-revalidate",
                (expires - now).max(0)
            )),
        ),
        (header::LAST_MODIFIED, date(answer.produced_at)),
        (header::EXPIRES, date(expires)),
        (
            header::ETAG,
            header::HeaderValue::from_str(&format!("\"{tag}\"")),
        ),
    ];
    for (name, value) in values {
        if let Ok(v) = value {
            h.insert(name, v);
        }
    }
    r
}

/// What the store knows of each asked serial (serials it never recorded are left out: unknown);
/// `None` when the store cannot answer.
async fn statuses(
    s: &State,
    parsed: &crate::ocsp::Parsed,
) -> Option<std::collections::HashMap<String, crate::ocsp::Status>> {
    let mut known = std::collections::HashMap::new();
    for id in &parsed.ids {
        let serial = id.serial_hex();
        let status = match s.db.revocation_of(&serial).await {
            Ok(None) => continue,
            Ok(Some(None)) => crate::ocsp::Status::Good,
            Ok(Some(Some((at, reason)))) => crate::ocsp::Status::Revoked {
                at,
                reason: reason.and_then(|c| u8::try_from(c).ok()).unwrap_or(0),
            },
            Err(e) => {
                tracing::error!(error = %e, "ocsp lookup");
                return None;
            }
        };
        known.insert(serial, status);
    }
    Some(known)
}

/// Errors are OCSP responses too (malformedRequest, internalError), as clients expect.
async fn ocsp_answer(s: &State, addr: std::net::SocketAddr, der: &[u8], get: bool) -> Response {
    let Some(parsed) = crate::ocsp::parse(der) else {
        return ocsp_reply(crate::ocsp::malformed());
    };
    let t = now();
    let reusable = !parsed.has_nonce();
    if reusable {
        let cached = s.ocsp_cache.get(der, t);
        s.metrics.ocsp_cache(cached.is_some());
        if let Some(answer) = cached {
            return ocsp_reply_cacheable(answer, get, t);
        }
    }
    let generation = s.ocsp_cache.generation();
    let Some(known) = statuses(s, &parsed).await else {
        return ocsp_reply(crate::ocsp::internal_error());
    };
    // What no cache can answer costs a signature each: limited per client (RFC 6960 tryLater).
    let cacheable = reusable && known.len() == parsed.ids.len();
    if !cacheable && !s.signing_limiter.allow(addr.ip()) {
        return ocsp_reply(crate::ocsp::try_later());
    }
    let status = |serial: &str| *known.get(serial).unwrap_or(&crate::ocsp::Status::Unknown);
    match crate::ocsp::answer(&s.ca, &parsed, status, t) {
        Ok(body) if reusable => {
            let answer = crate::ocsp::Cached {
                produced_at: t,
                der: body.into(),
            };
            // A serial unknown now may be issued in a minute: only known ones are kept.
            if cacheable {
                s.ocsp_cache.put(der, answer.clone(), generation);
            }
            ocsp_reply_cacheable(answer, get, t)
        }
        Ok(body) => ocsp_reply(body),
        Err(e) => {
            tracing::error!(error = %e, "ocsp response");
            ocsp_reply(crate::ocsp::internal_error())
        }
    }
}
