//! Probes for a process supervisor or a load balancer: `/healthz` says the process answers;
//! `/readyz` says it can do its work — the database answers, its migrations are current and
//! the CA key signs. Each part is named, so an operator sees which one failed.

use crate::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// How long a CA key check stands: a probe every second must not cost a signature (or an HSM
/// round trip) each time.
const CA_CHECK_SECS: i64 = 10;

/// The last CA key check: when, and whether the key signed.
#[derive(Default)]
pub struct CaProbe(std::sync::Mutex<Option<(i64, bool)>>);

pub fn router() -> Router<State> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> &'static str {
    "ok\n"
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    database: &'static str,
    migrations: String,
    ca_key: &'static str,
}

async fn readyz(axum::extract::State(s): axum::extract::State<State>) -> impl IntoResponse {
    let (database, migrations) = match s.db.pending_migrations().await {
        Ok(0) => ("ok", "ok".to_string()),
        Ok(n) => ("ok", format!("{n} pending")),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            ("unreachable", "unknown".to_string())
        }
    };
    let ca_key = if ca_signs(&s).await {
        "ok"
    } else {
        "cannot sign"
    };
    let ready = database == "ok" && migrations == "ok" && ca_key == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        ready,
        database,
        migrations,
        ca_key,
    };
    (status, [("cache-control", "no-store")], Json(body))
}

/// Signs a probe with the CA key and verifies it with the CA's public key, at most every
/// `CA_CHECK_SECS` (off the async threads: an HSM call blocks).
async fn ca_signs(s: &State) -> bool {
    let t = crate::now();
    if let Ok(last) = s.ca_probe.0.lock() {
        if let Some((at, ok)) = *last {
            if t - at < CA_CHECK_SECS {
                return ok;
            }
        }
    }
    let state = s.clone();
    let ok = tokio::task::spawn_blocking(move || {
        let probe = b"certrenew readiness probe";
        let sig = state.ca.sign(probe);
        crate::sig::verify_sha256(state.ca.public_key(), probe, &sig)
    })
    .await
    .unwrap_or(false);
    if let Ok(mut last) = s.ca_probe.0.lock() {
        *last = Some((t, ok));
    }
    ok
}
