//! Administrator console API: login (argon2), review queue, approve / reject, search.
//! Sessions live in an HttpOnly, SameSite=Strict cookie; every state change also needs the
//! session's CSRF token in `X-CSRF-Token`.

use crate::error::{AppError, AppResult};
use crate::fault::Error;
use crate::store::{transition, Step};
use crate::{now, random_id, sha256_hex, State};
use api::{Event, OrderStatus};
use argon2::{PasswordHasher, PasswordVerifier};
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, StatusCode};
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
        .route("/admin/orders/{number}", get(order_detail))
        .route("/admin/orders/{number}/approve", post(approve))
        .route("/admin/orders/{number}/reject", post(reject))
        .route("/admin/certificates/{serial}/revoke", post(revoke))
        .route("/admin/discrepancies", get(discrepancies))
        .route("/admin/refunds", get(refunds))
        .route("/admin/dashboard", get(dashboard))
        .route("/admin/orders/{number}/resend", post(resend))
        .route("/admin/certificates", get(certificates))
        .route("/admin/certificates/{serial}", get(certificate))
        .route("/admin/export/{file}", get(export))
        .route("/admin/refunds/{id}/retry", post(retry_refund))
}

pub fn hash_password(password: &str) -> Result<String, Error> {
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(Error::system)
}

/// What a console account may do. Reading is every role's; the rest is split so that no one
/// person needs every power.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Approves and rejects orders; sees the order page's personal data (each view audited).
    Reviewer,
    /// Revokes certificates, retries refunds, resends notices.
    Operator,
    /// Reads everything masked, changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Reviewer, Role::Operator, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The roles an account had before roles existed, and gets when none are named.
pub const DEFAULT_ROLES: [Role; 2] = [Role::Reviewer, Role::Operator];

/// Creates or replaces an administrator with the default roles (reviewer and operator).
pub async fn create_admin(s: &State, username: &str, password: &str) -> Result<(), Error> {
    create_admin_with_roles(s, username, password, &DEFAULT_ROLES).await
}

/// Creates or replaces an administrator with these roles.
pub async fn create_admin_with_roles(
    s: &State,
    username: &str,
    password: &str,
    roles: &[Role],
) -> Result<(), Error> {
    if password.chars().count() < 10 {
        return Err(Error::System(
            "an administrator password has at least 10 characters".into(),
        ));
    }
    if roles.is_empty() {
        return Err(Error::System(
            "an administrator has at least one role".into(),
        ));
    }
    let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    let hash = hash_password(password)?;
    s.db.set_admin(username, &hash, &roles.join(","))
        .await
        .map_err(Error::system)?;
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
    /// What the console may offer this account (the server checks each request anyway).
    #[serde(default)]
    pub roles: Vec<String>,
}

async fn login(
    axum::extract::State(s): axum::extract::State<State>,
    axum::extract::ConnectInfo(addr): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Json(mut l): Json<Login>,
) -> AppResult<Response> {
    let account: String = l.username.chars().take(64).collect();
    if !s.login_limiter.allow(addr.ip()) || !s.account_limiter.allow_key(account) {
        tracing::warn!(user = %loggable(&l.username), client = %addr.ip(), "admin login rate-limited");
        return Err(AppError::RateLimited);
    }
    let password = zeroize::Zeroizing::new(std::mem::take(&mut l.password));
    let roles = check_password(&s, &l.username, password).await?;
    let token = random_id(32);
    let csrf = random_id(16);
    let mut tx = s.db.begin().await?;
    let hash = sha256_hex(token.as_bytes());
    crate::store::admin::open_session(&mut tx, &hash, &l.username, &csrf, now() + SESSION_SECS)
        .await?;
    crate::store::record_console(&mut tx, &l.username, "login", "", "").await?;
    tx.commit().await?;
    let secure = if s.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/api/v1/admin; Max-Age={SESSION_SECS}{secure}");
    let roles = roles.split(',').map(str::to_string).collect();
    let info = SessionInfo {
        username: l.username,
        csrf,
        roles,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(info)).into_response())
}

/// The account's roles when `password` is its password; refused (and a real account's refusal
/// recorded in the console's trail) otherwise.
async fn check_password(
    s: &State,
    username: &str,
    password: zeroize::Zeroizing<String>,
) -> AppResult<String> {
    let row = s.db.admin_credentials(username).await?;
    // Verify against a fixed hash when the user is unknown, so timing does not reveal names.
    let hash: String = match &row {
        Some((h, _)) => h.clone(),
        None => DUMMY_HASH.to_string(),
    };
    // Off the async workers (a verification takes tens of milliseconds), a few at a time.
    let _permit = s
        .password_checks
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let ok = tokio::task::spawn_blocking(move || {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    match row {
        Some((_, roles)) if ok => Ok(roles),
        _ => {
            tracing::info!(user = %loggable(username), "admin login refused");
            // A wrong password for a real account is in the console's trail (guessing shows there).
            if row.is_some() {
                let mut tx = s.db.begin().await?;
                crate::store::record_console(&mut tx, username, "login_refused", "", "").await?;
                tx.commit().await?;
            }
            Err(AppError::Unauthorized("wrong username or password"))
        }
    }
}

/// A username as the log may show it: what anyone typed, so cut to 64 characters and escaped
/// (no forged log lines, no 64 KiB entries).
pub fn loggable(name: &str) -> String {
    let mut out: String = name.chars().take(64).flat_map(char::escape_debug).collect();
    if name.chars().nth(64).is_some() {
        out.push('…');
    }
    out
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

/// What a console request does, and so who may make it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    /// Reads: any role.
    Read,
    /// A change to the session itself (logout): any role, with the CSRF token.
    Session,
    /// Approve, reject: a reviewer, with the CSRF token.
    Decide,
    /// Revoke, refunds, resend: an operator, with the CSRF token.
    Operate,
}

/// A logged-in console account.
pub struct Admin {
    pub username: String,
    pub roles: Vec<Role>,
}

impl Admin {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// The logged-in administrator, allowed what `need` asks (CSRF token for changes, the role);
/// 401 without a session, 403 otherwise.
async fn console(s: &State, headers: &HeaderMap, need: Need) -> AppResult<Admin> {
    let token = cookie_token(headers).ok_or(AppError::Unauthorized("login required"))?;
    let row =
        s.db.session(&sha256_hex(token.as_bytes()), now())
            .await?
            .ok_or(AppError::Unauthorized("login required"))?;
    if need != Need::Read
        && headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) != Some(row.csrf.as_str())
    {
        return Err(AppError::Forbidden("missing or wrong CSRF token"));
    }
    let who = Admin {
        username: row.username,
        roles: row.roles.split(',').filter_map(Role::parse).collect(),
    };
    let allowed = match need {
        Need::Read | Need::Session => !who.roles.is_empty(),
        Need::Decide => who.has(Role::Reviewer),
        Need::Operate => who.has(Role::Operator),
    };
    if !allowed {
        tracing::warn!(user = %loggable(&who.username), ?need, "console request refused for the account's role");
        return Err(AppError::Forbidden("your role may not do this"));
    }
    Ok(who)
}

async fn logout(
    axum::extract::State(s): axum::extract::State<State>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let who = console(&s, &headers, Need::Session).await?;
    if let Some(token) = cookie_token(&headers) {
        let mut tx = s.db.begin().await?;
        crate::store::admin::close_session(&mut tx, &sha256_hex(token.as_bytes())).await?;
        crate::store::record_console(&mut tx, &who.username, "logout", "", "").await?;
        tx.commit().await?;
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
    /// A state, or `all`; the review queue (`under_review`) without.
    status: Option<String>,
    /// Part of the order number, the subject or the operator's name.
    q: Option<String>,
    /// Applied at or after / before these Unix times.
    from: Option<i64>,
    to: Option<i64>,
    /// Paging: rows to skip, rows to give (at most 200).
    offset: Option<i64>,
    limit: Option<i64>,
}

pub use api::AdminOrder;

async fn list(
    axum::extract::State(s): axum::extract::State<State>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<Vec<AdminOrder>>> {
    console(&s, &headers, Need::Read).await?;
    let status = q.status.as_deref().unwrap_or("under_review");
    if status != "all" && OrderStatus::parse(status).is_none() {
        return Err(AppError::bad("status", "unknown status"));
    }
    let pattern = format!("%{}%", q.q.unwrap_or_default().replace(['%', '_'], ""));
    // The queue, oldest change first; a search of all orders, newest application first.
    let search = crate::store::admin::OrderSearch {
        status,
        pattern: &pattern,
        from: q.from.unwrap_or(0),
        to: q.to.unwrap_or(i64::MAX),
        limit: q.limit.unwrap_or(200).clamp(1, 200),
        offset: q.offset.unwrap_or(0).max(0),
    };
    let out =
        s.db.search_orders(&search)
            .await?
            .into_iter()
            .map(|(o, revoked)| super::console::admin_order(o, revoked))
            .collect();
    Ok(Json(out))
}

/// An order's page: its timeline (every transition, in order), payments and refunds with the
/// provider's trade numbers, the certificates renewed and issued, the notices sent. Reviewers
/// also get the form unmasked, and that view is written to the console's audit trail.
async fn order_detail(
    axum::extract::State(s): axum::extract::State<State>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> AppResult<Json<api::OrderDetail>> {
    let who = console(&s, &headers, Need::Read).await?;
    let o = s.db.order(&number).await?.ok_or(AppError::NotFound)?;
    let form = if who.has(Role::Reviewer) {
        let mut tx = s.db.begin().await?;
        crate::store::record_console(&mut tx, &who.username, "view_personal_data", &number, "")
            .await?;
        tx.commit().await?;
        serde_json::from_str(&o.form_json).ok()
    } else {
        None
    };
    Ok(Json(crate::http::console::order_detail(&s, o, form).await?))
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
    let who = console(&s, &headers, Need::Operate).await?.username;
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
    let mut tx = s.db.begin().await?;
    if crate::store::admin::revoke_certificate(&mut tx, &serial, t, code, &who).await? {
        let unpaid = stop_renewals(&mut tx, &serial, &who, t).await?;
        crate::store::record_console(&mut tx, &who, "revoke", &serial, &req.reason).await?;
        tx.commit().await?;
        // Their QR codes stop taking money; money already owed goes back now.
        crate::renewal::close_at_provider(&s, unpaid);
        s.refunds_ready.notify_one();
    } else {
        drop(tx);
        return match s.db.certificate_known(&serial).await? {
            true => Err(AppError::conflict(
                "already_revoked",
                "this certificate is already revoked",
            )),
            false => Err(AppError::NotFound),
        };
    }
    s.ocsp_cache.clear();
    s.crl_cache.clear();
    tracing::info!(%serial, reason = %req.reason, by = %who, "certificate revoked");
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The open renewal orders of a certificate just revoked stop, in the revocation's transaction:
/// unpaid ones are cancelled, paid ones refunded — at whatever step they were. Gives the pending
/// payments it closed (id, method), to be closed at their provider once committed.
async fn stop_renewals(
    tx: &mut crate::store::sql::Tx,
    serial: &str,
    who: &str,
    t: i64,
) -> Result<Vec<(String, String)>, crate::store::TransitionError> {
    let mut unpaid = vec![];
    for (number, status) in crate::store::admin::open_orders_of(tx, serial).await? {
        let Some(from) = OrderStatus::parse(&status) else {
            continue;
        };
        // Unpaid: closed (no money to return); paid, at any step: refunded.
        let event = if from == OrderStatus::AwaitingPayment {
            unpaid.extend(crate::renewal::close_pending_payments(tx, &number).await?);
            Event::Cancel
        } else {
            Event::Refund
        };
        if from.on(event).is_err() {
            continue;
        }
        let step = Step::new(&number, from, event, who, t).note("certificate revoked");
        if transition(tx, step).await? == OrderStatus::Refunding {
            crate::renewal::refund(tx, &number, who, t).await?;
        }
    }
    Ok(unpaid)
}

pub use crate::store::admin::Discrepancy;

/// Unsettled payment discrepancies (money of a wrong amount), oldest first.
async fn discrepancies(
    axum::extract::State(s): axum::extract::State<State>,
    headers: HeaderMap,
) -> AppResult<Json<Vec<Discrepancy>>> {
    console(&s, &headers, Need::Read).await?;
    let out = s.db.discrepancies().await?;
    Ok(Json(out))
}

/// Refunds in progress and failed ones, with the provider's trade numbers.
async fn refunds(
    axum::extract::State(s): axum::extract::State<State>,
    headers: HeaderMap,
) -> AppResult<Json<Vec<api::RefundView>>> {
    console(&s, &headers, Need::Read).await?;
    Ok(Json(crate::refund::open(&s).await?))
}

/// Queues an order's notices again (the newest of each kind), for an operator whose applicant
/// lost the mail or the SMS.
async fn resend(
    axum::extract::State(s): axum::extract::State<State>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> AppResult<StatusCode> {
    let who = console(&s, &headers, Need::Operate).await?.username;
    s.db.order(&number).await?.ok_or(AppError::NotFound)?;
    let mut tx = s.db.begin().await?;
    let queued = crate::store::admin::requeue_notices(&mut tx, &number, now()).await?;
    if queued == 0 {
        return Err(AppError::conflict(
            "nothing_to_resend",
            "no notice was sent about this order yet",
        ));
    }
    crate::store::record_console(
        &mut tx,
        &who,
        "resend",
        &number,
        &format!("{queued} notices"),
    )
    .await?;
    tx.commit().await?;
    s.outbox_ready.notify_one();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct CertificateQuery {
    /// Part of the serial or the subject.
    q: Option<String>,
    /// Only revoked ones, newest revocation first.
    #[serde(default)]
    revoked: bool,
}

/// Certificates this CA issued or knows, by serial or subject; or the revocations.
async fn certificates(
    axum::extract::State(s): axum::extract::State<State>,
    headers: HeaderMap,
    Query(q): Query<CertificateQuery>,
) -> AppResult<Json<Vec<api::CertificateRecord>>> {
    console(&s, &headers, Need::Read).await?;
    let pattern = format!("%{}%", q.q.unwrap_or_default().replace(['%', '_'], ""));
    let out = s.db.certificate_records_like(&pattern, q.revoked).await?;
    Ok(Json(out))
}

/// A certificate's page: what it is, its revocation, its lineage and its orders.
async fn certificate(
    axum::extract::State(s): axum::extract::State<State>,
    Path(serial): Path<String>,
    headers: HeaderMap,
) -> AppResult<Json<api::CertificateDetail>> {
    console(&s, &headers, Need::Read).await?;
    let detail = super::console::certificate_detail(&s, &serial).await?;
    Ok(Json(detail.ok_or(AppError::NotFound)?))
}

async fn dashboard(
    axum::extract::State(s): axum::extract::State<State>,
    headers: HeaderMap,
) -> AppResult<Json<api::Dashboard>> {
    console(&s, &headers, Need::Read).await?;
    Ok(Json(crate::http::dashboard::dashboard(&s, now()).await?))
}

/// CSV for accounting: `paid-orders.csv` or `invoices.csv` (each export audited: invoices name
/// buyers and taxpayer ids).
async fn export(
    axum::extract::State(s): axum::extract::State<State>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let who = console(&s, &headers, Need::Read).await?;
    let text = match file.as_str() {
        "paid-orders.csv" => crate::http::dashboard::paid_orders_csv(&s).await?,
        "invoices.csv" => crate::http::dashboard::invoices_csv(&s).await?,
        _ => return Err(AppError::NotFound),
    };
    let mut tx = s.db.begin().await?;
    crate::store::record_console(&mut tx, &who.username, "export", &file, "").await?;
    tx.commit().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        text,
    )
        .into_response())
}

/// Asks the provider again for a refund that was left `failed`.
async fn retry_refund(
    axum::extract::State(s): axum::extract::State<State>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> AppResult<StatusCode> {
    let who = console(&s, &headers, Need::Operate).await?.username;
    if crate::refund::retry_failed(&s, &id, &who).await? {
        tracing::info!(refund = %id, by = %loggable(&who), "failed refund set going again");
        return Ok(StatusCode::NO_CONTENT);
    }
    Err(AppError::conflict(
        "refund_not_failed",
        "no failed refund has this number (it may be under way or done already)",
    ))
}

async fn approve(
    axum::extract::State(s): axum::extract::State<State>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> AppResult<Json<api::OrderView>> {
    let who = console(&s, &headers, Need::Decide).await?.username;
    Ok(Json(
        crate::renewal::decide(&s, &number, &who, Event::Approve, "").await?,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn usernames_are_logged_short_and_escaped() {
        assert_eq!(super::loggable("reviewer"), "reviewer");
        assert_eq!(super::loggable("a\nINFO forged"), "a\\nINFO forged");
        let long = "x".repeat(65_536);
        assert_eq!(super::loggable(&long).chars().count(), 65);
    }
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
    let who = console(&s, &headers, Need::Decide).await?.username;
    let reason = api::validate::text(&r.reason, 200)
        .map_err(|e| AppError::Fields(vec![("reason".into(), e)]))?;
    Ok(Json(
        crate::renewal::decide(&s, &number, &who, Event::Reject, &reason).await?,
    ))
}
