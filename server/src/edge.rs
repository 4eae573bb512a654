//! The HTTP edge: connections accepted with bounds `axum::serve` does not set — a deadline for a
//! request's headers (which is also how long a keep-alive connection may sit idle), a deadline
//! for the whole request, and a cap on open connections — plus the browser security headers every
//! response carries.

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A client must send a request's headers within this (slowloris); a keep-alive connection
    /// with no new request is closed after it too.
    pub header_read: Duration,
    /// A request must be answered within this (408 after).
    pub request: Duration,
    /// Connections open at once; past it, new ones wait in the kernel's backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// Serves `app` on `listener` until the process ends. Each connection gets the peer's address as
/// `ConnectInfo`, as `into_make_service_with_connect_info` would give it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: Limits,
) -> std::io::Result<()> {
    let app = app.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        limits.request,
    ));
    let open = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    loop {
        let Ok(permit) = open.clone().acquire_owned().await else {
            return Ok(());
        };
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = hyper_util::service::TowerToHyperService::new(
            app.clone().layer(axum::Extension(ConnectInfo(peer))),
        );
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_read)
                .keep_alive(true);
            let conn = http.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(client = %peer, error = %e, "connection ended");
            }
            drop(permit);
        });
    }
}

/// The security headers of every response (those a handler set itself are kept): no framing,
/// no MIME sniffing, no referrer to other sites, HSTS when the public URL is https. The content
/// security policy by what the response is: pages get [`CSP`] (scripts only from this origin,
/// WebAssembly compiled from them); data (JSON, certificates, CSV, images) the API's
/// [`DATA_CSP`], which lets nothing run should one be opened as a page; scripts, style sheets and
/// WebAssembly never become documents (no worker is started from them), so they go without the
/// document-only headers, which cost ~290 bytes a file of the citizen's first page; a response
/// without a body type (a 304 revalidating a page) gets no policy, keeping the stored one.
pub fn security_headers(https: bool) -> impl Fn(&mut axum::http::HeaderMap) + Clone {
    move |h: &mut axum::http::HeaderMap| {
        let set = |h: &mut axum::http::HeaderMap, name: header::HeaderName, value: &'static str| {
            h.entry(name)
                .or_insert_with(|| HeaderValue::from_static(value));
        };
        // No body type: a 304, whose headers replace those the browser stored with the page
        // (a data policy there would block the page's own scripts), or a body-less answer.
        let kind = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let policy = match kind {
            None => None,
            Some(k) if k.starts_with("text/html") => Some(CSP),
            Some(k) if SUBRESOURCES.iter().any(|s| k.starts_with(s)) => None,
            Some(_) => Some(DATA_CSP),
        };
        if let Some(policy) = policy {
            set(h, header::CONTENT_SECURITY_POLICY, policy);
            set(h, header::X_FRAME_OPTIONS, "DENY");
        }
        set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        set(
            h,
            header::REFERRER_POLICY,
            "strict-origin-when-cross-origin",
        );
        if https {
            set(
                h,
                header::STRICT_TRANSPORT_SECURITY,
                "max-age=31536000; includeSubDomains",
            );
        }
    }
}

/// One log line per request — method, path (never the query: the console's search holds names),
/// status, milliseconds — under a request id the response carries as `X-Request-Id`, so a user's
/// report or a proxy's log finds the server's lines. Lines logged while serving it carry the id
/// too (the span). A caller's own id is kept when it is a plain token, else replaced.
pub async fn request_log(
    axum::extract::State(s): axum::extract::State<crate::State>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    let given = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string);
    let id = given.unwrap_or_else(|| crate::random_id(8));
    if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID, v);
    }
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    // The route as routed, for metrics: raw paths would make a label per order and per file.
    let route = match req.extensions().get::<axum::extract::MatchedPath>() {
        Some(m) => m.as_str().to_string(),
        None if s.config.web_dir.is_some() && !path.starts_with("/api/") => "static".into(),
        None => "unmatched".into(),
    };
    let start = std::time::Instant::now();
    let span = tracing::info_span!("request", id = %id);
    let mut res = next.run(req).instrument(span.clone()).await;
    let seconds = start.elapsed().as_secs_f64();
    let ms = seconds * 1000.0;
    s.metrics
        .request(method.as_str(), &route, res.status().as_u16(), seconds);
    span.in_scope(|| {
        tracing::info!(target: "certrenew::request", %method, %path, status = res.status().as_u16(), ms = format!("{ms:.1}"), "request");
    });
    if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    res
}

const REQUEST_ID: &str = "x-request-id";

/// Bodies that never become documents.
const SUBRESOURCES: [&str; 3] = ["text/javascript", "text/css", "application/wasm"];

/// What is not a page: nothing loads or runs, nobody frames it.
pub const DATA_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// No inline script anywhere (the pages load theirs from files); styles may be inline (the
/// sandbox cashier's page); the app fetches only its own API.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// How long browsers keep a static file: the pages (and files under fixed names) are asked
/// again each time (a 304 when unchanged); files named by their content never change.
pub fn cache_control(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or("");
    if is_content_named(name) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// `name.0123456789abcdef.ext`: the build names assets by a 16-hex-digit hash of their content.
pub fn is_content_named(name: &str) -> bool {
    let mut parts = name.rsplit('.');
    let (Some(_ext), Some(hash)) = (parts.next(), parts.next()) else {
        return false;
    };
    parts.next().is_some() && hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_content_named_files_are_immutable() {
        assert_eq!(super::cache_control("/index.html"), "no-cache");
        assert_eq!(super::cache_control("/boot.js"), "no-cache");
        assert_eq!(
            super::cache_control("/web_bg.0123456789abcdef.wasm"),
            "public, max-age=31536000, immutable"
        );
        assert!(!super::is_content_named("0123456789abcdef.js"));
        assert!(!super::is_content_named("web.0123.js"));
    }
}
