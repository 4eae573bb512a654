//! HTTP routes. Handlers are thin: parse, call the order logic, map errors.

use crate::error::{AppError, AppResult};
use crate::store::{transition, Order, Payment, PaymentStatus, Step, TransitionError};
use crate::{now, random_id, sha256_hex, State};
use api::{Event, OrderStatus, OrderView};
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use der::{Decode, Encode};
use x509_cert::Certificate;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

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

pub const OPENAPI: &str = include_str!("openapi.json");

pub fn app(state: State) -> Router {
    let api = Router::new()
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
        .route("/ocsp", post(ocsp_post))
        .route("/ocsp/{*request}", get(ocsp_get))
        .route("/demo/management-key", post(demo_management_key))
        .route("/orders/{number}/management-key", post(management_answer))
        .route(
            "/orders/{number}/management-key/check",
            post(management_check),
        )
        .route("/prefill", post(prefill))
        .route("/renewal-info/{id}", get(renewal_info))
        .merge(crate::routes::admin::router());
    let mut router = Router::new()
        .nest("/api/v1", api)
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
    if !state.config.cors_origins.is_empty() {
        let origins: Vec<axum::http::HeaderValue> = state
            .config
            .cors_origins
            .iter()
            .filter_map(|o| o.parse().ok())
            .collect();
        router = router.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
                .allow_headers([
                    header::CONTENT_TYPE,
                    axum::http::HeaderName::from_static("x-order-token"),
                ])
                .expose_headers([axum::http::HeaderName::from_static("x-order-token")]),
        );
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
    }
    r
}

pub mod admin;
pub mod console;
pub mod dashboard;

async fn agreement() -> Json<api::Agreement> {
    Json(api::Agreement {
        version: "2026-1".into(),
        title: "电子认证服务协议".into(),
        text: include_str!("agreement.txt").into(),
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

fn today(t: i64) -> u32 {
    let (y, m, d) = crate::china_date(t);
    (y as u32) * 10_000 + m * 100 + d
}

/// Parses and checks a certificate the way an application needs it: ours, valid, in the window.
/// The renewal window and expiry of a certificate this CA issued.
fn check_window(s: &State, summary: &ccid::cert::CertSummary, t: i64) -> AppResult<()> {
    if summary.expired {
        return Err(AppError::Expired);
    }
    let opens = summary.not_after - s.config.renewal_window_days * 86_400;
    if t < opens {
        return Err(AppError::conflict(
            "not_in_renewal_window",
            format!("online renewal opens at {opens}"),
        ));
    }
    Ok(())
}

async fn apply(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Json(req): Json<api::ApplicationRequest>,
) -> AppResult<Response> {
    limited(&s, addr)?;
    let t = now();
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
    check_window(&s, &summary, t)?;
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
    let mut tx = s.db.writer.begin().await?;
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
    let view = view_of(&s, &order, None, None).await?;
    Ok((
        StatusCode::CREATED,
        [("x-order-token", token.as_str())],
        Json(view),
    )
        .into_response())
}

/// The answer to a certificate presented as a credential that is not one this CA issued (or not
/// a certificate at all): the same for every such case, so a caller learns nothing more.
fn not_ours() -> AppError {
    AppError::Forbidden("this certificate was not issued by this CA")
}

/// Loads an order for its holder: the `X-Order-Token` handed out with the application.
async fn authorized(s: &State, number: &str, headers: &HeaderMap) -> AppResult<Order> {
    let token = headers
        .get("x-order-token")
        .and_then(|v| v.to_str().ok())
        .ok_or(AppError::Unauthorized("order token required"))?;
    let order = s.db.order(number).await?.ok_or(AppError::NotFound)?;
    if order.token_hash != sha256_hex(token.as_bytes()) {
        // Same answer as a missing order: the token is what proves the right to see it.
        return Err(AppError::NotFound);
    }
    Ok(order)
}

pub(crate) async fn view(s: &State, o: &Order) -> AppResult<OrderView> {
    let payment = s.db.latest_payment(&o.number).await?;
    // Invoices are issued on installation: no query before.
    let invoice = if o.status == OrderStatus::Installed {
        s.db.invoice_of(&o.number).await?
    } else {
        None
    };
    view_of(s, o, payment, invoice).await
}

/// The view of an order whose latest payment and invoice the caller already holds (a handler
/// that just wrote them saves the round trips to read them back).
async fn view_of(
    s: &State,
    o: &Order,
    payment: Option<Payment>,
    invoice: Option<api::InvoiceView>,
) -> AppResult<OrderView> {
    let payment = payment.map(|p| payment_view(&p));
    Ok(OrderView {
        number: o.number.clone(),
        subject: o.subject.clone(),
        certificate_serial: o.cert_serial.clone(),
        applied_at: o.applied_at,
        status: o.status,
        progress_step: o.status.progress_step(),
        period_months: o.period_months as u32,
        fee_fen: o.fee_fen,
        old_not_after: o.old_not_after,
        new_not_after: o.new_not_after,
        operator_name: o.operator_name.clone(),
        remarks: o.remarks.clone(),
        payment,
        invoice,
        // Only the install needs it: no lookup for the other states (every view costs queries).
        management_key_algorithm: if matches!(o.status, OrderStatus::Approved | OrderStatus::Issued)
        {
            s.db.management_key(&o.cert_serial)
                .await?
                .map(|k| k.algorithm() as u8)
        } else {
            None
        },
    })
}

fn payment_view(p: &Payment) -> api::PaymentView {
    api::PaymentView {
        id: p.id.clone(),
        method: crate::payment::stored_method(&p.method),
        amount_fen: p.amount_fen,
        paid: p.status == PaymentStatus::Paid,
        cashier_url: p.pay_url.clone().unwrap_or_default(),
        qr_payload: p.qr_payload.clone().unwrap_or_default(),
        expires_at: p.expires_at,
    }
}

async fn order(
    axum::extract::State(s): axum::extract::State<State>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> AppResult<Json<OrderView>> {
    let o = authorized(&s, &number, &headers).await?;
    Ok(Json(view(&s, &o).await?))
}

/// A revoked certificate's renewal stops wherever it is (approval, issuance, the management key,
/// confirmation): a stolen token reported or a compromised key must not get a fresh certificate.
pub(crate) async fn refuse_revoked(s: &State, serial: &str) -> AppResult<()> {
    if s.db.revoked(serial).await? {
        return Err(AppError::conflict(
            "certificate_revoked",
            "the certificate being renewed is revoked",
        ));
    }
    Ok(())
}

fn illegal(o: &Order, action: &str) -> AppError {
    AppError::conflict(
        "illegal_transition",
        format!("cannot {action} an order that is {}", o.status.as_str()),
    )
}

async fn cancel(
    axum::extract::State(s): axum::extract::State<State>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> AppResult<Json<OrderView>> {
    let o = authorized(&s, &number, &headers).await?;
    let t = now();
    let mut tx = s.db.writer.begin().await?;
    // The state machine decides: closed before payment, refunded after, refused later on.
    o.status
        .on(Event::Cancel)
        .map_err(|_| illegal(&o, "cancel"))?;
    let closed = close_pending_payments(&mut tx, &number).await?;
    let step = Step::new(&number, o.status, Event::Cancel, "applicant", t).note("cancelled");
    if transition(&mut tx, step).await? == OrderStatus::Refunding {
        refund(&mut tx, &number, "applicant", t).await?;
    }
    tx.commit().await?;
    s.refunds_ready.notify_one();
    close_at_provider(&s, closed);
    let o = s.db.order(&number).await?.ok_or(AppError::NotFound)?;
    Ok(Json(view(&s, &o).await?))
}

/// Closes an order's pending payments (the order no longer takes money: a later notice for them
/// is refunded). Returns them (id, method), to be closed at the provider once committed.
pub(crate) async fn close_pending_payments(
    tx: &mut crate::store::sql::Tx,
    number: &str,
) -> Result<Vec<(String, String)>, crate::store::sql::Error> {
    crate::store::renewals::end_pending_payments(tx, number, crate::store::renewals::Ended::Closed)
        .await
}

/// Closes payments at their provider, in the background: their QR codes stop taking money. A
/// close that fails is only logged — money that still comes is refunded when it is noticed.
pub(crate) fn close_at_provider(s: &State, payments: Vec<(String, String)>) {
    for (id, method) in payments {
        if let Some(p) = s.payments.for_stored(&method).cloned() {
            tokio::spawn(async move {
                let _ = p.close(&id).await;
            });
        }
    }
}

/// Refunds the paid payment of an order in `Refunding`: queued in the caller's transaction and
/// asked of the provider by the refund job; the order becomes `Refunded` when the provider
/// confirms (`refund::run`). Callers wake the job once they commit.
pub(crate) async fn refund(
    tx: &mut crate::store::sql::Tx,
    number: &str,
    actor: &str,
    t: i64,
) -> Result<(), crate::store::TransitionError> {
    crate::refund::queue_order(tx, number, &format!("refund ({actor})"), t).await?;
    Ok(())
}

/// Payments one order may create (each a new QR code at the provider): a changed invoice title
/// makes a new one, a flood does not.
pub const PAYMENTS_PER_ORDER: i64 = 5;

async fn create_payment(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Path(number): Path<String>,
    headers: HeaderMap,
    Json(req): Json<api::PaymentRequest>,
) -> AppResult<Json<api::PaymentView>> {
    limited(&s, addr)?;
    let o = authorized(&s, &number, &headers).await?;
    if s.payments.is_empty() {
        return Err(AppError::Unavailable(
            "payments_unavailable",
            "online payment is not set up on this server",
        ));
    }
    // The cashier offers only the configured methods (GET /prices): another is a stale page.
    let provider = s
        .payments
        .for_method(req.method)
        .cloned()
        .ok_or(AppError::Unavailable(
            "method_unavailable",
            "this server does not take payments this way",
        ))?;
    let mut fields = vec![];
    let title = api::validate::text(&req.invoice_title, 100)
        .map_err(|e| fields.push(("invoice_title".to_string(), e)))
        .ok();
    let taxpayer = api::validate::social_credit_code(&req.taxpayer_id)
        .map_err(|e| fields.push(("taxpayer_id".to_string(), e)))
        .ok();
    let (Some(title), Some(taxpayer)) = (title, taxpayer) else {
        return Err(AppError::Fields(fields));
    };
    if o.status != OrderStatus::AwaitingPayment {
        return Err(illegal(&o, "pay"));
    }
    let t = now();
    // A payment never outlives its order: both end when the order's time to pay does.
    let expires_at = o.applied_at + s.config.payment_ttl_secs;
    if expires_at <= t {
        return Err(AppError::conflict(
            "payment_expired",
            "the time to pay for this order has passed",
        ));
    }
    let method = crate::payment::method_str(req.method);
    if let Some(p) = s.db.latest_payment(&number).await? {
        // An unexpired pending payment is reused, so a double click cannot pay twice.
        if p.status == PaymentStatus::Pending
            && p.expires_at > t
            && p.method == method
            && (p.pay_url.is_some() || p.qr_payload.is_some())
            && p.invoice_title == title
            && p.taxpayer_id == taxpayer
        {
            return Ok(Json(payment_view(&p)));
        }
    }
    let id = format!("P{}", random_id(12));
    let mut tx = s.db.writer.begin().await?;
    // The new payment replaces the order's pending ones: money still sent to those is returned.
    let replaced = close_pending_payments(&mut tx, &number).await?;
    let made = crate::store::renewals::payments_made(&mut tx, &number).await?;
    if made >= PAYMENTS_PER_ORDER {
        return Err(AppError::conflict(
            "too_many_payments",
            "this order has made as many payments as it may; apply again",
        ));
    }
    let payment = crate::store::renewals::NewPayment {
        id: &id,
        order: &number,
        method,
        amount_fen: o.fee_fen,
        invoice_title: &title,
        taxpayer_id: &taxpayer,
        created_at: t,
        expires_at,
    };
    crate::store::renewals::insert_payment(&mut tx, &payment).await?;
    // Still awaiting payment (a notice may have moved it meanwhile): else no new payment.
    let status = crate::store::renewals::order_status_in(&mut tx, &number).await?;
    if status != OrderStatus::AwaitingPayment.as_str() {
        return Err(illegal(&o, "pay"));
    }
    tx.commit().await?;
    close_at_provider(&s, replaced);
    // The trade at the provider, after the row exists: a notice for it always finds its payment.
    let subject = format!("数字证书续期 {number}");
    let trade = crate::payment::NewTrade {
        id: &id,
        amount_fen: o.fee_fen,
        subject: &subject,
        expires_at,
    };
    let created = match provider.create(req.method, &trade).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(payment = %id, error = %e, "the provider did not create the trade");
            s.db.close_payment(&id).await?;
            return Err(AppError::Unavailable(
                "provider_unavailable",
                "the payment provider did not answer; try again in a moment",
            ));
        }
    };
    s.db.set_payment_codes(&id, created.qr_payload, created.pay_url)
        .await?;
    let p = s.db.payment(&id).await?.ok_or(AppError::NotFound)?;
    Ok(Json(payment_view(&p)))
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
    use crate::payment::{Notice, NoticeError};
    let name = p.name();
    let (result, response) = match p.verify_notice(&headers, &body) {
        Err(e @ NoticeError::Signature) => (
            "refused_signature",
            p.notice_refused(StatusCode::FORBIDDEN, &e.to_string()),
        ),
        Err(e) => (
            "refused",
            p.notice_refused(StatusCode::BAD_REQUEST, &e.to_string()),
        ),
        Ok(Notice::Ignored(_)) => ("ignored", p.notice_taken()),
        Ok(Notice::Refund(id)) => match crate::refund::due_now(&s, &id).await {
            Ok(()) => ("refund", p.notice_taken()),
            Err(e) => {
                tracing::warn!(error = %e, "refund notice not taken");
                (
                    "not_taken",
                    p.notice_refused(StatusCode::INTERNAL_SERVER_ERROR, "try again"),
                )
            }
        },
        Ok(Notice::Paid(paid)) => match take_payment(&s, &paid).await {
            Ok(()) => ("paid", p.notice_taken()),
            Err(e) => {
                tracing::warn!(error = %e, "payment notice refused");
                // The provider reads only the body; the status says why to anyone else.
                let status = match e {
                    AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                    _ => StatusCode::BAD_REQUEST,
                };
                ("not_taken", p.notice_refused(status, "not taken"))
            }
        },
    };
    s.metrics.notice(name, result);
    response
}

/// Records money a provider vouches for (a verified notice, or a reconciliation query's answer):
/// taken by the order, returned, or kept for a person — never silently kept. Repeats change
/// nothing.
pub(crate) async fn take_payment(s: &State, notice: &crate::payment::Paid) -> AppResult<()> {
    let p =
        s.db.payment(&notice.payment_id)
            .await?
            .ok_or(AppError::bad("notice", "unknown payment"))?;
    let t = now();
    let mut tx = s.db.writer.begin().await?;
    if p.amount_fen != notice.amount_fen {
        // Money came, but not the amount asked for: recorded for the review console to settle
        // (acknowledged, so the provider stops resending; the record is what counts).
        crate::store::renewals::record_wrong_amount(
            &mut tx,
            &p.id,
            &p.order_number,
            notice.amount_fen,
            p.amount_fen,
            &notice.trade_no,
            t,
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(payment = %p.id, order = %p.order_number, paid = notice.amount_fen, expected = p.amount_fen, "payment of a wrong amount recorded as a discrepancy");
        return Ok(());
    }
    let taken =
        crate::store::renewals::take_pending_payment(&mut tx, &p.id, &notice.trade_no, t).await?;
    if !taken {
        // Money for a payment that was closed (expired with its order, replaced by a newer one,
        // the order cancelled): recorded with its trade and returned.
        let late =
            crate::store::renewals::record_late_money(&mut tx, &p.id, &notice.trade_no, t).await?;
        if late {
            crate::refund::queue(
                &mut tx,
                &p.id,
                &p.order_number,
                p.amount_fen,
                "money for a closed payment",
                t,
            )
            .await?;
            let note = format!(
                "money for closed payment {} ({}) to be refunded",
                p.id, notice.trade_no
            );
            crate::refund::audit_note(&mut tx, &p.order_number, "payment", &note, t).await?;
        }
        tx.commit().await?;
        if late {
            s.refunds_ready.notify_one();
            tracing::warn!(payment = %p.id, order = %p.order_number, "money for a closed payment: refund queued");
        }
        // Otherwise a repeat: already recorded, nothing changes.
        return Ok(());
    }
    let paid = Step::new(
        &p.order_number,
        OrderStatus::AwaitingPayment,
        Event::Pay,
        "payment",
        t,
    );
    if let Err(e) = transition(&mut tx, paid.note(&notice.trade_no)).await {
        if !matches!(e, TransitionError::Moved { .. }) {
            return Err(e.into());
        }
        // Money arrived for an order that is no longer payable (cancelled, expired): give it back.
        crate::refund::queue(
            &mut tx,
            &p.id,
            &p.order_number,
            p.amount_fen,
            "money for a closed order",
            t,
        )
        .await?;
        let note = format!(
            "money for payment {} ({}) after the order closed, to be refunded",
            p.id, notice.trade_no
        );
        crate::refund::audit_note(&mut tx, &p.order_number, "payment", &note, t).await?;
        tx.commit().await?;
        s.refunds_ready.notify_one();
        tracing::warn!(order = %p.order_number, "payment for a closed order: refund queued");
        return Ok(());
    }
    // Read in the transaction: a second connection here could wait on a pool this notice's
    // concurrent repeats hold (PostgreSQL).
    let revoked =
        crate::store::renewals::order_certificate_revoked(&mut tx, &p.order_number).await?;
    if revoked {
        // Revoked while the payment was under way: the renewal stops and the money goes back.
        let step = Step::new(
            &p.order_number,
            OrderStatus::Paid,
            Event::Refund,
            "system",
            t,
        );
        transition(&mut tx, step.note("certificate revoked")).await?;
        refund(&mut tx, &p.order_number, "system", t).await?;
    } else {
        let step = Step::new(
            &p.order_number,
            OrderStatus::Paid,
            Event::Queue,
            "system",
            t,
        );
        let queued = transition(&mut tx, step.note("queued for review")).await?;
        if s.config.auto_approve {
            let step = Step::new(
                &p.order_number,
                queued,
                Event::AutoApprove,
                "auto-approve",
                t,
            );
            transition(&mut tx, step).await?;
        }
    }
    tx.commit().await?;
    s.refunds_ready.notify_one();
    Ok(())
}

async fn issue(
    axum::extract::State(s): axum::extract::State<State>,
    Path(number): Path<String>,
    headers: HeaderMap,
    req: Result<Json<api::IssueRequest>, JsonRejection>,
) -> AppResult<Json<api::IssueResponse>> {
    let o = authorized(&s, &number, &headers).await?;
    let Json(req) = req?;
    if !matches!(o.status, OrderStatus::Approved | OrderStatus::Issued) {
        return Err(illegal(&o, "issue a certificate for"));
    }
    refuse_revoked(&s, &o.cert_serial).await?;
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
        return match (&o.issued_cert, &o.issued_key) {
            (Some(cert), Some(k)) if *k == key_fp => Ok(Json(api::IssueResponse {
                certificate: B64.encode(cert),
                not_after: o.new_not_after,
            })),
            _ => Err(AppError::conflict(
                "already_issued",
                "a certificate was already issued for another key",
            )),
        };
    }
    let t = now();
    let serial = crate::ca::random_serial();
    let der =
        s.ca.issue_renewal(&old, &key, t, o.new_not_after, &serial)
            .map_err(AppError::Internal)?;
    let mut tx = s.db.writer.begin().await?;
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
        return match (o.issued_cert, o.issued_key) {
            (Some(cert), Some(k)) if k == key_fp => Ok(Json(api::IssueResponse {
                certificate: B64.encode(cert),
                not_after: o.new_not_after,
            })),
            _ => Err(AppError::conflict(
                "already_issued",
                "a certificate was already issued for another key",
            )),
        };
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
    Ok(Json(api::IssueResponse {
        certificate: B64.encode(&der),
        not_after: o.new_not_after,
    }))
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
async fn management_answer(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Path(number): Path<String>,
    headers: HeaderMap,
    req: Result<Json<api::ManagementWitness>, JsonRejection>,
) -> AppResult<Json<api::ManagementAnswer>> {
    limited(&s, addr)?;
    let o = authorized(&s, &number, &headers).await?;
    let Json(req) = req?;
    let key = install_key(&s, &o).await?;
    // Counted before answering, in one statement, so parallel requests cannot pass the limit.
    let counted =
        s.db.count_management_answer(&number, OrderStatus::Issued.as_str(), MANAGEMENT_ANSWERS)
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
    Ok(Json(api::ManagementAnswer {
        witness: B64.encode(plain),
        challenge: B64.encode(challenge),
    }))
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
    let o = authorized(&s, &number, &headers).await?;
    let Json(req) = req?;
    let key = install_key(&s, &o).await?;
    let (Ok(challenge), Ok(response)) = (B64.decode(&req.challenge), B64.decode(&req.response))
    else {
        return Err(AppError::bad("challenge", "not base64"));
    };
    let ok = challenge.len() == key.block_size() && key.encrypt(&challenge) == response;
    Ok(Json(api::ManagementChecked { ok }))
}

async fn confirm(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Path(number): Path<String>,
    headers: HeaderMap,
    req: Result<Json<api::ConfirmRequest>, JsonRejection>,
) -> AppResult<Json<OrderView>> {
    limited(&s, addr)?;
    let o = authorized(&s, &number, &headers).await?;
    let Json(req) = req?;
    if o.status == OrderStatus::Installed {
        return Ok(Json(view(&s, &o).await?));
    }
    if o.status != OrderStatus::Issued {
        return Err(illegal(&o, "confirm installation of"));
    }
    refuse_revoked(&s, &o.cert_serial).await?;
    let der = o.issued_cert.clone().ok_or(AppError::Internal(
        "issued order without certificate".into(),
    ))?;
    let summary =
        ccid::cert::summarize(&der, now()).map_err(|e| AppError::Internal(e.to_string()))?;
    // The new certificate may have been revoked before it was installed.
    refuse_revoked(&s, &summary.serial).await?;
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
    let mut tx = s.db.writer.begin().await?;
    let step = Step::new(&number, OrderStatus::Issued, Event::Install, "applicant", t);
    transition(&mut tx, step.also(crate::store::Also::Installed)).await?;
    // The token keeps its management key: file it under the certificate it now holds.
    crate::store::renewals::carry_management_key(&mut tx, &summary.serial, &o.cert_serial, t)
        .await?;
    let invoice = crate::routes::admin::issue_invoice(&mut tx, &number, &payment, t).await?;
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
    Ok(Json(view_of(&s, &o, Some(payment), Some(invoice)).await?))
}

async fn invoice(
    axum::extract::State(s): axum::extract::State<State>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> AppResult<Json<api::InvoiceView>> {
    authorized(&s, &number, &headers).await?;
    let invoice = s.db.invoice_of(&number).await?;
    Ok(Json(invoice.ok_or(AppError::NotFound)?))
}

/// The CA's certificate revocation list (DER, RFC 5280), valid for a day; signed again only
/// after a revocation or a minute. Its number only grows.
async fn crl(axum::extract::State(s): axum::extract::State<State>) -> AppResult<Response> {
    let der = s
        .crl_cache
        .get(&s, now())
        .await
        .map_err(AppError::Internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pkix-crl"),
            (header::CACHE_CONTROL, "max-age=60, public, no-transform"),
        ],
        der.to_vec(),
    )
        .into_response())
}

/// OCSP over POST (RFC 6960 Appendix A.1): the DER request is the body.
async fn ocsp_post(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    body: axum::body::Bytes,
) -> Response {
    ocsp_answer(&s, addr, &body, false).await
}

/// OCSP over GET: the request in base64 (then URL-encoded) as the rest of the path.
async fn ocsp_get(
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
                return ocsp_reply(crate::ocsp::internal_error());
            }
        };
        known.insert(serial, status);
    }
    // What no cache can answer costs a signature each: limited per client (RFC 6960 tryLater).
    let cacheable = reusable
        && parsed
            .ids
            .iter()
            .all(|id| known.contains_key(&id.serial_hex()));
    if !cacheable && !s.signing_limiter.allow(addr.ip()) {
        return ocsp_reply(crate::ocsp::try_later());
    }
    let status = |serial: &str| {
        known
            .get(serial)
            .copied()
            .unwrap_or(crate::ocsp::Status::Unknown)
    };
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

/// Demo mode only: the CA files the management key the browser set on its demo token, so demo
/// renewals go through the server-held key path like personalized tokens.
async fn demo_management_key(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Json(req): Json<api::DemoManagementKey>,
) -> AppResult<axum::http::StatusCode> {
    if !s.config.demo {
        return Err(AppError::NotFound);
    }
    limited(&s, addr)?;
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
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Demo mode only: a certificate for a browser demo token, expiring in 30 days so that it is
/// inside the renewal window at once.
async fn demo_certificate(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Json(req): Json<api::DemoCertificateRequest>,
) -> AppResult<Json<api::IssueResponse>> {
    if !s.config.demo {
        return Err(AppError::NotFound);
    }
    limited(&s, addr)?;
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
    let der = crate::demo_certificate(&s, &subject, &key, t - 335 * 86_400, t + 30 * 86_400)
        .await
        .map_err(AppError::Internal)?;
    Ok(Json(api::IssueResponse {
        certificate: B64.encode(&der),
        not_after: t + 30 * 86_400,
    }))
}

/// The details of the last renewal along this certificate's own line (the certificates it
/// renewed, back to the first), for the holder of its key only, and only while the certificate is
/// good: never by subject text, never for a revoked or expired one. The ID number comes masked.
async fn prefill(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Json(req): Json<api::PrefillRequest>,
) -> AppResult<Json<api::Prefill>> {
    limited(&s, addr)?;
    let t = now();
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
    if !crate::challenge::consume(&s.db.writer, &req.challenge_id, expires).await? {
        return Err(spent());
    }
    let line = s.db.lineage(&summary.serial).await?;
    let Some(number) = s.db.last_order_of(&line).await? else {
        return Ok(Json(api::Prefill::default()));
    };
    let Some(last) = s.db.order(&number).await? else {
        return Ok(Json(api::Prefill::default()));
    };
    let form = serde_json::from_str::<api::ApplicationForm>(&last.form_json)
        .ok()
        .map(|mut f| {
            f.operator.id_number = api::validate::mask(&f.operator.id_number);
            f
        });
    let payment = s.db.latest_payment(&number).await?;
    tracing::info!(order = %number, "details of the previous renewal shown to the key holder");
    Ok(Json(api::Prefill {
        form,
        invoice_title: payment.as_ref().map(|p| p.invoice_title.clone()),
        taxpayer_id: payment.map(|p| p.taxpayer_id),
    }))
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
