//! HTTP routes. Handlers are thin: parse, call the order logic, map errors.

use crate::error::{AppError, AppResult};
use crate::{now, renewal, State};
use api::OrderView;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;

/// Every API route as (method, path under /api/v1); the OpenAPI document lists exactly these
/// (a test compares them and checks each is routed).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/agreement"),
    ("GET", "/prices"),
    ("GET", "/ca"),
    ("GET", "/openapi.json"),
    ("POST", "/challenges"),
    ("POST", "/applications"),
    ("GET", "/orders/{number}"),
    ("POST", "/orders/{number}/cancel"),
    ("POST", "/orders/{number}/payments"),
    ("POST", "/orders/{number}/certificate"),
    ("POST", "/orders/{number}/confirm"),
    ("POST", "/orders/{number}/management-key"),
    ("POST", "/orders/{number}/management-key/check"),
    ("GET", "/orders/{number}/invoice"),
    ("POST", "/payments/alipay/notify"),
    ("POST", "/payments/wechat/notify"),
    ("POST", "/payments/wechat/refund-notify"),
    ("POST", "/admin/login"),
    ("POST", "/admin/logout"),
    ("GET", "/admin/orders"),
    ("GET", "/admin/orders/{number}"),
    ("POST", "/admin/orders/{number}/approve"),
    ("POST", "/admin/orders/{number}/reject"),
    ("POST", "/demo/certificate"),
    ("POST", "/demo/management-key"),
    ("POST", "/prefill"),
    ("GET", "/renewal-info/{id}"),
    ("GET", "/crl"),
    ("POST", "/ocsp"),
    ("GET", "/ocsp/{request}"),
    ("POST", "/admin/certificates/{serial}/revoke"),
    ("GET", "/admin/discrepancies"),
    ("GET", "/admin/refunds"),
    ("GET", "/admin/dashboard"),
    ("POST", "/admin/orders/{number}/resend"),
    ("GET", "/admin/certificates"),
    ("GET", "/admin/certificates/{serial}"),
    ("GET", "/admin/export/{file}"),
    ("POST", "/admin/refunds/{id}/retry"),
];

pub const OPENAPI: &str = include_str!("../openapi.json");

/// The API under `/api/v1`: every route of [`ROUTES`].
fn api_routes() -> Router<State> {
    Router::new()
        .route(
            "/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .route("/agreement", get(agreement))
        .route("/prices", get(prices))
        .route("/ca", get(ca_certificate))
        .route("/challenges", post(new_challenge))
        .route("/applications", post(apply))
        .route("/orders/{number}", get(order))
        .route("/orders/{number}/cancel", post(cancel))
        .route("/orders/{number}/payments", post(create_payment))
        .route("/orders/{number}/certificate", post(issue))
        .route("/orders/{number}/confirm", post(confirm))
        .route("/orders/{number}/invoice", get(invoice))
        .route("/payments/{provider}/notify", post(notify))
        .route("/payments/{provider}/refund-notify", post(notify))
        .route("/demo/certificate", post(demo_certificate))
        .route("/crl", get(crl))
        .route("/ocsp", post(ocsp::post))
        .route("/ocsp/{*request}", get(ocsp::get))
        .route("/demo/management-key", post(demo_management_key))
        .route("/orders/{number}/management-key", post(management_answer))
        .route(
            "/orders/{number}/management-key/check",
            post(management_check),
        )
        .route("/prefill", post(prefill))
        .route("/renewal-info/{id}", get(renewal_info))
        .merge(crate::http::admin::router())
}

/// The whole service: the API, health, the sandbox's pages where it takes payments, the web app,
/// and the layers every request passes (body limit, proxies, CORS, security headers, the log).
pub fn app(state: State) -> Router {
    let mut router = Router::new()
        .nest("/api/v1", api_routes())
        .merge(crate::health::router());
    // The sandbox's pages exist only where it takes the payments.
    if state.config.sandbox_payments {
        router = router.merge(crate::payment::sandbox::router());
    }
    let mut router = router.layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024));
    if !state.config.trusted_proxies.is_empty() {
        router = router.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            behind_proxies,
        ));
    }
    if let Some(cors) = cors(&state) {
        router = router.layer(cors);
    }
    if let Some(dir) = &state.config.web_dir {
        // Served compressed: the build lays brotli and gzip copies beside each file.
        router = router.fallback_service(
            tower_http::services::ServeDir::new(dir)
                .append_index_html_on_directories(true)
                .precompressed_br()
                .precompressed_gzip(),
        );
    }
    router
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            edge_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::edge::request_log,
        ))
        .with_state(state)
}

/// Cross-origin callers allowed by the configuration (none: no CORS layer at all).
fn cors(state: &State) -> Option<tower_http::cors::CorsLayer> {
    if state.config.cors_origins.is_empty() {
        return None;
    }
    let origins: Vec<axum::http::HeaderValue> = state
        .config
        .cors_origins
        .iter()
        .filter_map(|o| o.parse().ok())
        .collect();
    let order_token = axum::http::HeaderName::from_static("x-order-token");
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
            .allow_headers([header::CONTENT_TYPE, order_token.clone()])
            .expose_headers([order_token]),
    )
}

/// Every response carries the browser security headers; static files say how long to keep them.
async fn edge_headers(
    axum::extract::State(s): axum::extract::State<State>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let file = !req.uri().path().starts_with("/api/") && !req.uri().path().starts_with("/sandbox/");
    let cache = crate::edge::cache_control(req.uri().path());
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    crate::edge::security_headers(s.config.public_url.starts_with("https://"))(h);
    if file && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static(cache),
        );
        // A file kept for good is never revalidated by date (and its ETag says the rest):
        // ~45 bytes less on each of the first page's content-named files.
        if cache.contains("immutable") {
            h.remove(header::LAST_MODIFIED);
        }
    }
    r
}

pub mod admin;
pub mod console;
pub mod dashboard;
mod ocsp;

async fn agreement() -> Json<api::Agreement> {
    Json(api::Agreement {
        version: "2026-1".into(),
        title: "电子认证服务协议".into(),
        text: include_str!("../agreement.txt").into(),
    })
}

async fn prices(axum::extract::State(s): axum::extract::State<State>) -> Json<api::PriceList> {
    let mut prices = s.config.prices();
    prices.payment_methods = s.payments.methods();
    Json(prices)
}

async fn ca_certificate(axum::extract::State(s): axum::extract::State<State>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/pkix-cert")],
        s.ca.cert_der.clone(),
    )
        .into_response()
}

/// Requests through a trusted reverse proxy carry the client's address (X-Forwarded-For) in
/// place of the proxy's, for every handler: otherwise all clients would share the proxy's rate
/// limit.
async fn behind_proxies(
    axum::extract::State(s): axum::extract::State<State>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .copied()
    {
        let ip = crate::limit::client_ip(peer.ip(), req.headers(), &s.config.trusted_proxies);
        req.extensions_mut()
            .insert(ConnectInfo(std::net::SocketAddr::new(ip, peer.port())));
    }
    next.run(req).await
}

fn limited(s: &State, addr: std::net::SocketAddr) -> AppResult<()> {
    if s.limiter.allow(addr.ip()) {
        Ok(())
    } else {
        Err(AppError::RateLimited)
    }
}

async fn new_challenge(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
) -> AppResult<Json<api::Challenge>> {
    limited(&s, addr)?;
    Ok(Json(s.challenges.issue(now(), s.config.challenge_ttl_secs)))
}

/// The order's token as the client sent it (`X-Order-Token`).
fn order_token(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-order-token").and_then(|v| v.to_str().ok())
}

async fn apply(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Json(req): Json<api::ApplicationRequest>,
) -> AppResult<Response> {
    limited(&s, addr)?;
    let (view, token) = renewal::apply(&s, &req, now()).await?;
    let token_header = [("x-order-token", token.as_str())];
    Ok((StatusCode::CREATED, token_header, Json(view)).into_response())
}

async fn prefill(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Json(req): Json<api::PrefillRequest>,
) -> AppResult<Json<api::Prefill>> {
    limited(&s, addr)?;
    Ok(Json(renewal::prefill(&s, &req, now()).await?))
}

async fn order(
    axum::extract::State(s): axum::extract::State<State>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> AppResult<Json<OrderView>> {
    let o = renewal::authorized(&s, &number, order_token(&headers)).await?;
    Ok(Json(renewal::view(&s, &o).await?))
}

async fn cancel(
    axum::extract::State(s): axum::extract::State<State>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> AppResult<Json<OrderView>> {
    let o = renewal::authorized(&s, &number, order_token(&headers)).await?;
    Ok(Json(renewal::cancel(&s, o).await?))
}

async fn create_payment(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Path(number): Path<String>,
    headers: HeaderMap,
    Json(req): Json<api::PaymentRequest>,
) -> AppResult<Json<api::PaymentView>> {
    limited(&s, addr)?;
    let o = renewal::authorized(&s, &number, order_token(&headers)).await?;
    Ok(Json(renewal::create_payment(&s, &o, &req).await?))
}

/// The body is read only after the order's token is checked: a stranger learns nothing from
/// what the body should be.
async fn issue(
    axum::extract::State(s): axum::extract::State<State>,
    Path(number): Path<String>,
    headers: HeaderMap,
    req: Result<Json<api::IssueRequest>, JsonRejection>,
) -> AppResult<Json<api::IssueResponse>> {
    let o = renewal::authorized(&s, &number, order_token(&headers)).await?;
    let Json(req) = req?;
    Ok(Json(renewal::issue(&s, &o, &req).await?))
}

/// Answers the token's management-key witness for the install (DESIGN §7): the browser relays,
/// the key stays here. Only for the order's own token, only while installing.
async fn management_answer(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Path(number): Path<String>,
    headers: HeaderMap,
    req: Result<Json<api::ManagementWitness>, JsonRejection>,
) -> AppResult<Json<api::ManagementAnswer>> {
    limited(&s, addr)?;
    let o = renewal::authorized(&s, &number, order_token(&headers)).await?;
    let Json(req) = req?;
    Ok(Json(renewal::management_answer(&s, &o, &req).await?))
}

/// Checks the token's encrypted challenge: the token knows the key the CA filed for it.
async fn management_check(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Path(number): Path<String>,
    headers: HeaderMap,
    req: Result<Json<api::ManagementCheck>, JsonRejection>,
) -> AppResult<Json<api::ManagementChecked>> {
    limited(&s, addr)?;
    let o = renewal::authorized(&s, &number, order_token(&headers)).await?;
    let Json(req) = req?;
    Ok(Json(renewal::management_check(&s, &o, &req).await?))
}

async fn confirm(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Path(number): Path<String>,
    headers: HeaderMap,
    req: Result<Json<api::ConfirmRequest>, JsonRejection>,
) -> AppResult<Json<OrderView>> {
    limited(&s, addr)?;
    let o = renewal::authorized(&s, &number, order_token(&headers)).await?;
    let Json(req) = req?;
    Ok(Json(renewal::confirm(&s, o, &req).await?))
}

/// Demo mode only: the CA files the management key the browser set on its demo token.
async fn demo_management_key(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Json(req): Json<api::DemoManagementKey>,
) -> AppResult<StatusCode> {
    renewal::demo::demo_only(&s)?;
    limited(&s, addr)?;
    renewal::demo::management_key(&s, &req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Demo mode only: a certificate for a browser demo token.
async fn demo_certificate(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Json(req): Json<api::DemoCertificateRequest>,
) -> AppResult<Json<api::IssueResponse>> {
    renewal::demo::demo_only(&s)?;
    limited(&s, addr)?;
    Ok(Json(renewal::demo::certificate(&s, &req).await?))
}

/// A provider's asynchronous notice. Answers as the provider wants once the payment is recorded
/// (also for repeats), so it stops resending; anything it cannot trust is refused.
async fn notify(
    axum::extract::State(s): axum::extract::State<State>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(p) = s.payments.named(&provider).cloned() else {
        // No such provider set up here: said in the API's own error form.
        return AppError::NotFound.into_response();
    };
    let (result, response) = take_notice(&s, &*p, &headers, &body).await;
    s.metrics.notice(p.name(), result);
    response
}

/// The notice verified and taken: what happened (for the metrics) and the provider's answer.
async fn take_notice(
    s: &State,
    p: &dyn crate::payment::PaymentProvider,
    headers: &HeaderMap,
    body: &[u8],
) -> (&'static str, Response) {
    use crate::payment::{Notice, NoticeError};
    let refused = |status, why: &str| p.notice_refused(status, why);
    match p.verify_notice(headers, body) {
        Err(e @ NoticeError::Signature) => (
            "refused_signature",
            refused(StatusCode::FORBIDDEN, &e.to_string()),
        ),
        Err(e) => ("refused", refused(StatusCode::BAD_REQUEST, &e.to_string())),
        Ok(Notice::Ignored(_)) => ("ignored", p.notice_taken()),
        Ok(Notice::Refund(id)) => match crate::refund::due_now(s, &id).await {
            Ok(()) => ("refund", p.notice_taken()),
            Err(e) => {
                tracing::warn!(error = %e, "refund notice not taken");
                let status = StatusCode::INTERNAL_SERVER_ERROR;
                ("not_taken", refused(status, "try again"))
            }
        },
        Ok(Notice::Paid(paid)) => match renewal::take_payment(s, &paid).await {
            Ok(()) => ("paid", p.notice_taken()),
            Err(e) => {
                tracing::warn!(error = %e, "payment notice refused");
                // The provider reads only the body; the status says why to anyone else.
                let status = match e {
                    AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                    _ => StatusCode::BAD_REQUEST,
                };
                ("not_taken", refused(status, "not taken"))
            }
        },
    }
}

async fn invoice(
    axum::extract::State(s): axum::extract::State<State>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> AppResult<Json<api::InvoiceView>> {
    renewal::authorized(&s, &number, order_token(&headers)).await?;
    let invoice = s.db.invoice_of(&number).await?;
    Ok(Json(invoice.ok_or(AppError::NotFound)?))
}

/// The CA's certificate revocation list (DER, RFC 5280), valid for a day; signed again only
/// after a revocation or a minute. Its number only grows.
async fn crl(axum::extract::State(s): axum::extract::State<State>) -> AppResult<Response> {
    let der = s.crl_cache.get(&s, now()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pkix-crl"),
            (header::CACHE_CONTROL, "max-age=60, public, no-transform"),
        ],
        der.to_vec(),
    )
        .into_response())
}

/// Renewal information in the style of ACME ARI (RFC 9773): the suggested renewal window of a
/// certificate this CA issued. `id` is base64url(AKI keyIdentifier) "." base64url(serial).
async fn renewal_info(
    axum::extract::State(s): axum::extract::State<State>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (aki, serial) = id
        .split_once('.')
        .ok_or(AppError::bad("id", "expected AKI.serial"))?;
    let aki = url
        .decode(aki)
        .map_err(|_| AppError::bad("id", "AKI is not base64url"))?;
    let serial = url
        .decode(serial)
        .map_err(|_| AppError::bad("id", "serial is not base64url"))?;
    if aki != s.ca.key_id() {
        return Err(AppError::NotFound);
    }
    let not_after =
        s.db.unrevoked_not_after(&crate::ca::serial_hex(&serial))
            .await?
            .ok_or(AppError::NotFound)?;
    let start = not_after - s.config.renewal_window_days * 86_400;
    let body = serde_json::json!({
        "suggestedWindow": { "start": crate::rfc3339(start), "end": crate::rfc3339(not_after) },
        "explanationURL": format!("{}/", s.config.public_url),
    });
    // RFC 9773 §4.2: clients poll again after Retry-After.
    Ok(([(header::RETRY_AFTER, "21600")], Json(body)).into_response())
}
