//! The sandbox: a local Alipay. It speaks the open platform gateway's wire format with keys of
//! its own — requests verified with the merchant's app key, answers and notices signed with
//! "Alipay's" — so the demo and the tests run the real Alipay adapter end to end. Its cashier
//! lets anyone pay; it is mounted only with `--demo` or `--sandbox-payments`.

use super::alipay::{self, response_key, verify_request, Account, KeyMode, Params};
use crate::error::{AppError, AppResult};
use crate::fault::Error;
use crate::sig::{RsaPublicKey, RsaSigner};
use crate::{now, State};
use axum::extract::{ConnectInfo, Path, RawForm};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::path::Path as FsPath;
use std::sync::atomic::{AtomicU32, Ordering};

pub const APP_ID: &str = "2021000000000001";
pub const SELLER_ID: &str = "2088000000000001";
/// Where the sandbox's gateway answers, under the server's public URL.
pub const GATEWAY_PATH: &str = "/sandbox/alipay/gateway.do";

/// The sandbox's keys: "Alipay's" signing key, and the merchant's app key (whose public half
/// the sandbox checks requests with, as Alipay does with the key the merchant uploaded).
pub struct Sandbox {
    key: RsaSigner,
    key_public: RsaPublicKey,
    app_key: zeroize::Zeroizing<Vec<u8>>,
    app_public: RsaPublicKey,
    /// Fault injection: this many refund calls fail (as Alipay's "system busy") before one works.
    pub refund_failures: AtomicU32,
}

fn load_or_create_key(path: &FsPath) -> Result<(RsaSigner, zeroize::Zeroizing<Vec<u8>>), Error> {
    if path.exists() {
        let der = zeroize::Zeroizing::new(std::fs::read(path).map_err(Error::config)?);
        Ok((RsaSigner::from_pkcs8(&der)?, der))
    } else {
        let (key, der) = RsaSigner::generate()?;
        // Signing keys: owner-only, like the CA key.
        crate::ca::write_private_bytes(path, &der)?;
        Ok((key, der))
    }
}

impl Sandbox {
    pub fn load_or_create(dir: &FsPath) -> Result<Self, Error> {
        let (key, _) = load_or_create_key(&dir.join("sandbox-provider.key"))?;
        let (app, app_key) = load_or_create_key(&dir.join("sandbox-app.key"))?;
        Ok(Self {
            key_public: key.public_key(),
            key,
            app_public: app.public_key(),
            app_key,
            refund_failures: AtomicU32::new(0),
        })
    }

    /// The merchant account the server uses against the sandbox (as it would against Alipay).
    pub fn account(&self, public_url: &str) -> Result<Account, Error> {
        Ok(Account {
            app_id: APP_ID.into(),
            seller_id: SELLER_ID.into(),
            key: RsaSigner::from_pkcs8(&self.app_key)?,
            mode: KeyMode::PublicKey(self.key_public.clone()),
            gateway: format!("{public_url}{GATEWAY_PATH}"),
        })
    }

    /// "Alipay's" public key (what a merchant downloads to check notices).
    pub fn public_key(&self) -> &RsaPublicKey {
        &self.key_public
    }

    /// The notice the sandbox sends once a payment is made.
    pub fn notice(&self, payment_id: &str, trade_no: &str, amount_fen: i64, t: i64) -> Params {
        let mut p = Params::new();
        p.insert("notify_time".into(), alipay::gmt8(t));
        p.insert("notify_type".into(), "trade_status_sync".into());
        p.insert("notify_id".into(), crate::random_id(12));
        p.insert("app_id".into(), APP_ID.into());
        p.insert("seller_id".into(), SELLER_ID.into());
        p.insert("out_trade_no".into(), payment_id.into());
        p.insert("trade_no".into(), trade_no.into());
        p.insert("trade_status".into(), "TRADE_SUCCESS".into());
        p.insert("total_amount".into(), api::yuan(amount_fen));
        self.sign(&mut p);
        p
    }

    /// Signs notice parameters (tests forge notices with other keys through the same path).
    pub fn sign(&self, p: &mut Params) {
        p.insert("sign_type".into(), "RSA2".into());
        let sig = alipay::sign_params(&self.key, p);
        p.insert("sign".into(), sig);
    }

    /// A gateway answer: `{"<method>_response": content, "sign": …}`, signed over the content's
    /// exact text.
    pub fn answer(&self, method: &str, content: &Value) -> String {
        use base64::Engine;
        let text = content.to_string();
        let sig =
            base64::engine::general_purpose::STANDARD.encode(self.key.sign_sha256(text.as_bytes()));
        format!(
            "{{{}:{text},\"sign\":{}}}",
            Value::from(response_key(method)),
            Value::from(sig)
        )
    }
}

fn failure(code: &str, sub_code: &str, sub_msg: &str) -> Value {
    json!({ "code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg })
}

fn not_exist() -> Value {
    failure("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在")
}

pub fn router() -> Router<State> {
    Router::new()
        .route(GATEWAY_PATH, post(gateway).get(page_pay))
        .route("/sandbox/cashier/{id}", get(cashier_page))
        .route("/sandbox/cashier/{id}/pay", post(cashier_pay))
}

/// The request's parameters: the query and the form body together, each key once.
fn request_params(query: Option<&str>, body: &[u8]) -> AppResult<Params> {
    let mut p = alipay::form_params(query.unwrap_or("").as_bytes())
        .map_err(|_| AppError::bad("request", "unreadable query"))?;
    for (k, v) in
        alipay::form_params(body).map_err(|_| AppError::bad("request", "unreadable form"))?
    {
        if p.insert(k, v).is_some() {
            return Err(AppError::bad("request", "a parameter given twice"));
        }
    }
    Ok(p)
}

/// Checks a merchant request as the gateway does; the method and its biz_content.
fn checked(s: &State, p: &Params) -> Result<(String, Value), Value> {
    if p.get("app_id").map(String::as_str) != Some(APP_ID) {
        return Err(failure("40002", "isv.invalid-app-id", "无效的AppID参数"));
    }
    if p.get("sign_type").map(String::as_str) != Some("RSA2")
        || !verify_request(&s.sandbox.app_public, p)
    {
        return Err(failure("40002", "isv.invalid-signature", "验签出错"));
    }
    let biz = p
        .get("biz_content")
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .filter(Value::is_object)
        .ok_or_else(|| failure("40002", "isv.invalid-biz-content", "biz_content无效"))?;
    Ok((p.get("method").cloned().unwrap_or_default(), biz))
}

async fn gateway(
    axum::extract::State(s): axum::extract::State<State>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    uri: axum::http::Uri,
    RawForm(body): RawForm,
) -> AppResult<Response> {
    if !s.signing_limiter.allow(addr.ip()) {
        return Err(AppError::RateLimited);
    }
    let p = request_params(uri.query(), &body)?;
    let method = p.get("method").cloned().unwrap_or_default();
    let content = match checked(&s, &p) {
        Err(refusal) => refusal,
        Ok((method, biz)) => {
            let str_of = |k: &str| biz.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let id = str_of("out_trade_no");
            match method.as_str() {
                "alipay.trade.precreate" => {
                    precreate(
                        &s,
                        &biz,
                        p.get("notify_url").map(String::as_str).unwrap_or(""),
                    )
                    .await?
                }
                "alipay.trade.query" => query(&s, &id).await?,
                "alipay.trade.close" => close(&s, &id).await?,
                "alipay.trade.refund" => {
                    refund(&s, &id, &str_of("out_request_no"), &str_of("refund_amount")).await?
                }
                "alipay.trade.fastpay.refund.query" => {
                    refund_query(&s, &id, &str_of("out_request_no")).await?
                }
                _ => failure("40004", "isv.invalid-method", "不存在的方法名"),
            }
        }
    };
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/json;charset=utf-8",
        )],
        s.sandbox.answer(&method, &content),
    )
        .into_response())
}

use crate::store::sandbox::Trade;

async fn trade(s: &State, id: &str) -> AppResult<Option<Trade>> {
    Ok(s.db.sandbox_trade(id).await?)
}

/// `yyyy-MM-dd HH:mm:ss` (GMT+8) back to Unix time.
fn parse_gmt8(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() != 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let base = crate::add_months(0, u32::try_from((y - 1970) * 12 + mo - 1).ok()?);
    Some(base + (d - 1) * 86_400 + h * 3600 + mi * 60 + se - 8 * 3600)
}

/// Opens a trade (a precreate, or a page.pay when the payer arrives); the same request again
/// finds the same trade.
async fn open_trade(s: &State, biz: &Value, notify_url: &str) -> AppResult<Result<String, Value>> {
    let str_of = |k: &str| biz.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let id = str_of("out_trade_no");
    let Some(total) = api::parse_yuan(&str_of("total_amount")).filter(|f| *f > 0) else {
        return Ok(Err(failure(
            "40004",
            "ACQ.INVALID_PARAMETER",
            "total_amount无效",
        )));
    };
    if id.is_empty() || id.len() > 64 || str_of("subject").is_empty() {
        return Ok(Err(failure("40004", "ACQ.INVALID_PARAMETER", "参数无效")));
    }
    let t = now();
    let expires = parse_gmt8(&str_of("time_expire")).unwrap_or(t + 2 * 3600);
    let trade_no = format!("2026{}", crate::random_id(12));
    let subject = str_of("subject");
    s.db.sandbox_open_trade(&crate::store::sandbox::NewTrade {
        out_trade_no: &id,
        trade_no: &trade_no,
        total_fen: total,
        subject: &subject,
        notify_url,
        created_at: t,
        expires_at: expires,
    })
    .await?;
    let tr = trade(s, &id)
        .await?
        .ok_or(AppError::Internal("sandbox trade lost".into()))?;
    if tr.total_fen != total {
        return Ok(Err(failure(
            "40004",
            "ACQ.CONTEXT_INCONSISTENT",
            "交易信息被篡改",
        )));
    }
    Ok(Ok(id))
}

async fn precreate(s: &State, biz: &Value, notify_url: &str) -> AppResult<Value> {
    Ok(match open_trade(s, biz, notify_url).await? {
        Err(refusal) => refusal,
        Ok(id) => json!({
            "code": "10000", "msg": "Success", "out_trade_no": id,
            "qr_code": format!("{}/sandbox/cashier/{id}", s.config.public_url),
        }),
    })
}

/// `alipay.trade.page.pay`: the payer's browser arrives with the signed request; the cashier.
async fn page_pay(
    axum::extract::State(s): axum::extract::State<State>,
    uri: axum::http::Uri,
) -> AppResult<Response> {
    let p = request_params(uri.query(), b"")?;
    let (method, biz) = checked(&s, &p)
        .map_err(|_| AppError::Forbidden("the request's signature does not verify"))?;
    if method != "alipay.trade.page.pay" {
        return Err(AppError::bad("method", "not a page method"));
    }
    match open_trade(
        &s,
        &biz,
        p.get("notify_url").map(String::as_str).unwrap_or(""),
    )
    .await?
    {
        Ok(id) => Ok(Redirect::to(&format!("/sandbox/cashier/{id}")).into_response()),
        Err(_) => Err(AppError::bad(
            "biz_content",
            "not a trade the sandbox can open",
        )),
    }
}

async fn query(s: &State, id: &str) -> AppResult<Value> {
    Ok(match trade(s, id).await? {
        None => not_exist(),
        Some(t) => json!({
            "code": "10000", "msg": "Success", "out_trade_no": id, "trade_no": t.trade_no,
            "trade_status": t.status, "total_amount": api::yuan(t.total_fen),
        }),
    })
}

async fn close(s: &State, id: &str) -> AppResult<Value> {
    let closed = s.db.sandbox_close_trade(id).await?;
    Ok(match trade(s, id).await? {
        None => not_exist(),
        Some(t) if closed || t.status == "TRADE_CLOSED" => {
            json!({ "code": "10000", "msg": "Success", "out_trade_no": id, "trade_no": t.trade_no })
        }
        Some(_) => failure("40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法"),
    })
}

async fn refunded_fen(s: &State, id: &str) -> AppResult<i64> {
    Ok(s.db.sandbox_refunded_fen(id).await?)
}

async fn refund(s: &State, id: &str, request_no: &str, amount: &str) -> AppResult<Value> {
    if s.sandbox
        .refund_failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return Ok(failure("20000", "ACQ.SYSTEM_ERROR", "系统繁忙"));
    }
    let Some(t) = trade(s, id).await? else {
        return Ok(not_exist());
    };
    let Some(amount) = api::parse_yuan(amount).filter(|a| *a > 0) else {
        return Ok(failure(
            "40004",
            "ACQ.INVALID_PARAMETER",
            "refund_amount无效",
        ));
    };
    if request_no.is_empty() || request_no.len() > 64 {
        return Ok(failure(
            "40004",
            "ACQ.INVALID_PARAMETER",
            "out_request_no无效",
        ));
    }
    let done = |fund_change: &str, total_refunded: i64| {
        json!({
            "code": "10000", "msg": "Success", "out_trade_no": id, "trade_no": t.trade_no,
            "fund_change": fund_change, "refund_fee": api::yuan(total_refunded),
        })
    };
    let already = s.db.sandbox_refund(id, request_no).await?;
    if already.is_some() {
        // The same request again: refunded once, no money moves now.
        return Ok(done("N", refunded_fen(s, id).await?));
    }
    if t.status == "WAIT_BUYER_PAY" || t.status == "TRADE_CLOSED" && refunded_fen(s, id).await? == 0
    {
        return Ok(failure("40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法"));
    }
    let mut tx = s.db.begin().await?;
    let before = crate::store::sandbox::refunded_fen_in(&mut tx, id).await?;
    if before + amount > t.total_fen {
        return Ok(failure(
            "40004",
            "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
            "退款金额超限",
        ));
    }
    let closes = before + amount == t.total_fen;
    crate::store::sandbox::book_refund(&mut tx, id, request_no, amount, now(), closes).await?;
    tx.commit().await?;
    tracing::info!(
        payment = id,
        refund = request_no,
        "sandbox: money returned to the payer"
    );
    Ok(done("Y", before + amount))
}

async fn refund_query(s: &State, id: &str, request_no: &str) -> AppResult<Value> {
    let Some(t) = trade(s, id).await? else {
        return Ok(not_exist());
    };
    let r = s.db.sandbox_refund(id, request_no).await?;
    Ok(match r {
        // No such refund: Alipay answers success with no refund in it.
        None => {
            json!({ "code": "10000", "msg": "Success", "out_trade_no": id, "out_request_no": request_no })
        }
        Some(r) => json!({
            "code": "10000", "msg": "Success", "out_trade_no": id, "trade_no": t.trade_no,
            "out_request_no": request_no, "total_amount": api::yuan(t.total_fen),
            "refund_amount": api::yuan(r), "refund_status": "REFUND_SUCCESS",
        }),
    })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn cashier_page(
    axum::extract::State(s): axum::extract::State<State>,
    Path(id): Path<String>,
) -> AppResult<Html<String>> {
    let t = trade(&s, &id).await?.ok_or(AppError::NotFound)?;
    let state = match t.status.as_str() {
        "TRADE_SUCCESS" | "TRADE_FINISHED" => "已支付 Paid",
        "TRADE_CLOSED" => "已关闭 Closed",
        _ => "未支付 Unpaid",
    };
    Ok(Html(format!(
        include_str!("../cashier.html"),
        subject = html_escape(&t.subject),
        id = html_escape(&id),
        amount = api::yuan(t.total_fen),
        state = state,
    )))
}

/// A person presses "pay" in the sandbox: the provider then notifies the merchant, with retries.
async fn cashier_pay(
    axum::extract::State(s): axum::extract::State<State>,
    Path(id): Path<String>,
) -> AppResult<Html<String>> {
    let t = trade(&s, &id).await?.ok_or(AppError::NotFound)?;
    let at = now();
    if t.status == "WAIT_BUYER_PAY" && t.expires_at > at {
        let paid = s.db.sandbox_pay_trade(&id, at).await?;
        if paid {
            if s.config.sandbox_drop_notices {
                tracing::warn!(payment = %id, "sandbox: notice dropped (fault injection)");
            } else {
                let params = s.sandbox.notice(&id, &t.trade_no, t.total_fen, at);
                tokio::spawn(super::deliver(
                    s.http.clone(),
                    t.notify_url.clone(),
                    params,
                    8,
                ));
            }
        }
    } else if t.status != "TRADE_SUCCESS" {
        return Err(AppError::conflict(
            "payment_expired",
            "this payment is closed or expired",
        ));
    }
    Ok(Html(format!(
        "<!doctype html><meta charset=utf-8><title>支付成功</title><p id=result>支付成功，请返回续期页面。Payment made; return to the renewal page.</p><p>{}</p>",
        html_escape(&t.subject)
    )))
}

#[cfg(test)]
mod tests {
    #[test]
    fn gmt8_times_read_back() {
        for t in [0, 1_796_142_605, 1_800_000_000] {
            assert_eq!(super::parse_gmt8(&super::alipay::gmt8(t)), Some(t));
        }
        assert_eq!(super::parse_gmt8("2026-12-02"), None);
    }
}
