//! Administrator console API: login (argon2), review queue, approve / reject, search.
//! Sessions live in an HttpOnly, SameSite=Strict cookie; every state change also needs the
//! session's CSRF token in `X-CSRF-Token`.

use crate::db::{transition, Order, Payment};
use crate::error::{AppError, AppResult};
use crate::{now, random_id, sha256_hex, State};
use api::OrderStatus;
use argon2::{PasswordHasher, PasswordVerifier};
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

const COOKIE: &str = "certrenew_admin";
const SESSION_SECS: i64 = 8 * 3600;

pub fn router() -> Router<State> {
    Router::new()
        .route("/admin/login", post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/orders", get(list))
        .route("/admin/orders/{number}/approve", post(approve))
        .route("/admin/orders/{number}/reject", post(reject))
        .route("/admin/certificates/{serial}/revoke", post(revoke))
}

pub fn hash_password(password: &str) -> Result<String, String> {
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Creates or replaces an administrator.
pub async fn create_admin(s: &State, username: &str, password: &str) -> Result<(), String> {
    if password.chars().count() < 10 {
        return Err("an administrator password has at least 10 characters".into());
    }
    let hash = hash_password(password)?;
    crate::sql::query("INSERT INTO admins (username, password_hash) VALUES ($1, $2) ON CONFLICT (username) DO UPDATE SET password_hash = $2")
        .bind(username)
        .bind(hash)
        .execute(&s.db.writer)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

#[derive(Serialize, Deserialize)]
pub struct SessionInfo {
    pub username: String,
    pub csrf: String,
}

async fn login(
    axum::extract::State(s): axum::extract::State<State>,
    axum::extract::ConnectInfo(addr): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Json(mut l): Json<Login>,
) -> AppResult<Response> {
    if !s.login_limiter.allow(addr.ip()) {
        tracing::warn!(user = %l.username, client = %addr.ip(), "admin login rate-limited");
        return Err(AppError::RateLimited);
    }
    let row = crate::sql::query("SELECT password_hash FROM admins WHERE username = $1")
        .bind(&l.username)
        .fetch_optional(&s.db.pool)
        .await?;
    // Verify against a fixed hash when the user is unknown, so timing does not reveal names.
    let hash: String = match &row {
        Some(r) => r.try_get("password_hash")?,
        None => DUMMY_HASH.to_string(),
    };
    // Off the async workers (a verification takes tens of milliseconds), a few at a time.
    let _permit = s
        .password_checks
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let password = zeroize::Zeroizing::new(std::mem::take(&mut l.password));
    let ok = tokio::task::spawn_blocking(move || {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    if !ok || row.is_none() {
        tracing::info!(user = %l.username, "admin login refused");
        return Err(AppError::Unauthorized("wrong username or password"));
    }
    let token = random_id(32);
    let csrf = random_id(16);
    crate::sql::query(
        "INSERT INTO sessions (token_hash, username, csrf, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(sha256_hex(token.as_bytes()))
    .bind(&l.username)
    .bind(&csrf)
    .bind(now() + SESSION_SECS)
    .execute(&s.db.writer)
    .await?;
    let secure = if s.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/api/v1/admin; Max-Age={SESSION_SECS}{secure}");
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(SessionInfo {
            username: l.username,
            csrf,
        }),
    )
        .into_response())
}

const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0YjpFO8cbcUu8fFbNvWq1lQ6ZnD2eWZ6m7T7dYkKc9Q";

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    let prefix = format!("{COOKIE}=");
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(&prefix).map(str::to_owned))
}

/// The logged-in administrator; `csrf` also checks the token for state-changing requests.
async fn admin(s: &State, headers: &HeaderMap, csrf: bool) -> AppResult<String> {
    let token = cookie_token(headers).ok_or(AppError::Unauthorized("login required"))?;
    let row = crate::sql::query(
        "SELECT username, csrf FROM sessions WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(sha256_hex(token.as_bytes()))
    .bind(now())
    .fetch_optional(&s.db.pool)
    .await?
    .ok_or(AppError::Unauthorized("login required"))?;
    if csrf {
        let expected: String = row.try_get("csrf")?;
        if headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
            return Err(AppError::Forbidden("missing or wrong CSRF token"));
        }
    }
    Ok(row.try_get("username")?)
}

async fn logout(
    axum::extract::State(s): axum::extract::State<State>,
    headers: HeaderMap,
) -> AppResult<Response> {
    admin(&s, &headers, true).await?;
    if let Some(token) = cookie_token(&headers) {
        crate::sql::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(sha256_hex(token.as_bytes()))
            .execute(&s.db.writer)
            .await?;
    }
    Ok((
        [(
            header::SET_COOKIE,
            format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/api/v1/admin; Max-Age=0"),
        )],
        "",
    )
        .into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    /// Order number or part of the subject.
    q: Option<String>,
}

/// An order as the review queue lists it: personal data masked.
#[derive(Serialize, Deserialize)]
pub struct AdminOrder {
    pub number: String,
    pub subject: String,
    pub status: OrderStatus,
    pub fee_fen: i64,
    pub applied_at: i64,
    pub operator_name: String,
    pub operator_id: String,
    pub operator_mobile: String,
}

async fn list(
    axum::extract::State(s): axum::extract::State<State>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<Vec<AdminOrder>>> {
    admin(&s, &headers, false).await?;
    let status = q.status.as_deref().unwrap_or("under_review");
    if OrderStatus::parse(status).is_none() {
        return Err(AppError::bad("status", "unknown status"));
    }
    let pattern = format!("%{}%", q.q.unwrap_or_default().replace(['%', '_'], ""));
    let rows = crate::sql::query("SELECT * FROM orders WHERE status = $1 AND (number LIKE $2 OR subject LIKE $2) ORDER BY updated_at LIMIT 200")
        .bind(status)
        .bind(&pattern)
        .fetch_all(&s.db.pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let o = Order::from_row(r)?;
        let form: api::ApplicationForm = serde_json::from_str(&o.form_json).unwrap_or_default();
        out.push(AdminOrder {
            number: o.number,
            subject: o.subject,
            status: o.status,
            fee_fen: o.fee_fen,
            applied_at: o.applied_at,
            operator_name: o.operator_name,
            operator_id: api::validate::mask(&form.operator.id_number),
            operator_mobile: api::validate::mask(&form.operator.mobile),
        });
    }
    Ok(Json(out))
}

#[derive(serde::Deserialize)]
struct RevokeRequest {
    /// RFC 5280 reason: unspecified, key_compromise, affiliation_changed, superseded,
    /// cessation_of_operation.
    reason: String,
}

/// Revokes a certificate this CA issued: it leaves the renewal path (applications refused,
/// no reminders) and appears on the CRL with its reason.
async fn revoke(
    axum::extract::State(s): axum::extract::State<State>,
    Path(serial): Path<String>,
    headers: HeaderMap,
    Json(req): Json<RevokeRequest>,
) -> AppResult<axum::http::StatusCode> {
    let who = admin(&s, &headers, true).await?;
    let code: i64 = match req.reason.as_str() {
        "unspecified" => 0,
        "key_compromise" => 1,
        "affiliation_changed" => 3,
        "superseded" => 4,
        "cessation_of_operation" => 5,
        _ => return Err(AppError::bad("reason", "unknown revocation reason")),
    };
    let serial = serial.to_ascii_uppercase();
    let t = crate::now();
    let changed = crate::sql::query("UPDATE certificates SET revoked_at = $1, revocation_reason = $2, revoked_by = $3 WHERE serial = $4 AND revoked_at IS NULL")
        .bind(t)
        .bind(code)
        .bind(&who)
        .bind(&serial)
        .execute(&s.db.writer)
        .await?
        .rows_affected();
    if changed == 0 {
        let known = crate::sql::query("SELECT serial FROM certificates WHERE serial = $1")
            .bind(&serial)
            .fetch_optional(&s.db.pool)
            .await?;
        return match known {
            Some(_) => Err(AppError::conflict(
                "already_revoked",
                "this certificate is already revoked",
            )),
            None => Err(AppError::NotFound),
        };
    }
    s.ocsp_cache.clear();
    tracing::info!(%serial, reason = %req.reason, by = %who, "certificate revoked");
    Ok(axum::http::StatusCode::NO_CONTENT)
}

async fn approve(
    axum::extract::State(s): axum::extract::State<State>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> AppResult<Json<api::OrderView>> {
    let who = admin(&s, &headers, true).await?;
    decide(&s, &number, &who, OrderStatus::Approved, "").await
}

#[derive(Deserialize)]
struct Reject {
    reason: String,
}

async fn reject(
    axum::extract::State(s): axum::extract::State<State>,
    Path(number): Path<String>,
    headers: HeaderMap,
    Json(r): Json<Reject>,
) -> AppResult<Json<api::OrderView>> {
    let who = admin(&s, &headers, true).await?;
    let reason = api::validate::text(&r.reason, 200)
        .map_err(|e| AppError::Fields(vec![("reason".into(), e)]))?;
    decide(&s, &number, &who, OrderStatus::Rejected, &reason).await
}

async fn decide(
    s: &State,
    number: &str,
    who: &str,
    to: OrderStatus,
    note: &str,
) -> AppResult<Json<api::OrderView>> {
    let o = s.db.order(number).await?.ok_or(AppError::NotFound)?;
    if o.status != OrderStatus::UnderReview {
        return Err(AppError::conflict(
            "illegal_transition",
            format!(
                "only orders under review can be decided; this one is {}",
                o.status.as_str()
            ),
        ));
    }
    let t = now();
    let mut tx = s.db.writer.begin().await?;
    // Two administrators at once: only the first transition succeeds.
    if !transition(
        &mut tx,
        number,
        OrderStatus::UnderReview,
        to,
        who,
        note,
        t,
        crate::db::Also::Nothing,
    )
    .await?
    {
        return Err(AppError::conflict(
            "illegal_transition",
            "another administrator decided this order first",
        ));
    }
    if to == OrderStatus::Rejected {
        crate::sql::query("UPDATE orders SET remarks = $1 WHERE number = $2")
            .bind(note)
            .bind(number)
            .execute(&mut tx)
            .await?;
        transition(
            &mut tx,
            number,
            OrderStatus::Rejected,
            OrderStatus::Refunding,
            who,
            "refund after rejection",
            t,
            crate::db::Also::Nothing,
        )
        .await?;
        crate::routes::refund(&mut tx, number, who, t).await?;
    }
    tx.commit().await?;
    let o = s.db.order(number).await?.ok_or(AppError::NotFound)?;
    Ok(Json(crate::routes::view(s, &o).await?))
}

/// Issues the e-invoice of a paid order (immutable once written). Number: year (2), province
/// 44 (Guangdong), channel 1, and a 15-digit sequence.
pub async fn issue_invoice(
    tx: &mut crate::sql::Tx,
    number: &str,
    p: &Payment,
    t: i64,
) -> Result<api::InvoiceView, crate::sql::Error> {
    let seq: i64 = crate::sql::query("INSERT INTO invoice_seq (id, last) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET last = invoice_seq.last + 1 RETURNING last")
        .fetch_one(&mut *tx)
        .await?
        .try_get("last")?;
    let (y, _, _) = crate::china_date(t);
    // 6 % VAT on information technology services; the fee includes tax.
    let tax = (p.amount_fen * 6 + 53) / 106;
    let inv = api::InvoiceView {
        number: format!("{:02}441{seq:015}", y % 100),
        issued_at: t,
        buyer_title: p.invoice_title.clone(),
        buyer_taxpayer_id: p.taxpayer_id.clone(),
        item: "证书服务费用 certificate service fee".into(),
        amount_fen: p.amount_fen - tax,
        tax_fen: tax,
        total_fen: p.amount_fen,
    };
    crate::sql::query("INSERT INTO invoices (number, order_number, issued_at, buyer_title, buyer_taxpayer_id, item, amount_fen, tax_fen, total_fen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(&inv.number)
        .bind(number)
        .bind(t)
        .bind(&inv.buyer_title)
        .bind(&inv.buyer_taxpayer_id)
        .bind(&inv.item)
        .bind(inv.amount_fen)
        .bind(inv.tax_fen)
        .bind(inv.total_fen)
        .execute(&mut *tx)
        .await?;
    Ok(inv)
}
