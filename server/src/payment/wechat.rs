//! WeChat Pay APIv3 (Native: a `code_url` QR code). Requests signed `WECHATPAY2-SHA256-RSA2048`
//! over `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`; answers and notices verified over
//! `TIMESTAMP\nNONCE\nBODY\n` with the platform key their `Wechatpay-Serial` names (a
//! `PUB_KEY_ID_…` public key, or a platform certificate's serial) and refused when more than
//! five minutes off; notices' `resource` decrypted with AEAD_AES_256_GCM under the APIv3 key.
//! Amounts are integer fen on this wire.

use super::{
    Created, NewTrade, Notice, NoticeError, Paid, PaymentProvider, ProviderError, RefundRequest,
    RefundState, TradeState,
};
use crate::fault::Error;
use crate::sig::{RsaPublicKey, RsaSigner};
use api::PaymentMethod;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use serde::Deserialize;
use std::time::Instant;

/// WeChat Pay's API host.
pub const BASE_URL: &str = "https://api.mch.weixin.qq.com";

/// How far a signed timestamp may be from our clock, as WeChat Pay's own SDKs allow.
pub const MAX_SKEW_SECS: i64 = 300;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// What a request's signature covers: each line ends in `\n`, the body's too (empty for GET).
pub fn request_message(
    method: &str,
    path_and_query: &str,
    ts: i64,
    nonce: &str,
    body: &str,
) -> String {
    format!("{method}\n{path_and_query}\n{ts}\n{nonce}\n{body}\n")
}

/// What an answer's or a notice's signature covers: the raw body, as received.
pub fn answer_message(ts: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + ts.len() + nonce.len() + 3);
    for part in [ts.as_bytes(), b"\n", nonce.as_bytes(), b"\n", body, b"\n"] {
        m.extend_from_slice(part);
    }
    m
}

/// `yyyy-MM-ddTHH:mm:ss+08:00`, the form WeChat Pay wants times in.
pub fn rfc3339_gmt8(t: i64) -> String {
    format!("{}+08:00", super::alipay::gmt8(t).replacen(' ', "T", 1))
}

/// Decrypts a notice's `resource` (base64 of ciphertext ‖ 16-byte tag) with the APIv3 key.
pub fn decrypt_resource(
    key: &[u8; 32],
    nonce: &str,
    aad: &str,
    ciphertext: &str,
) -> Option<Vec<u8>> {
    let data = b64().decode(ciphertext).ok()?;
    if data.len() < 16 || nonce.is_empty() {
        return None;
    }
    let (ct, tag) = data.split_at(data.len() - 16);
    openssl::symm::decrypt_aead(
        openssl::symm::Cipher::aes_256_gcm(),
        key,
        Some(nonce.as_bytes()),
        aad.as_bytes(),
        ct,
        tag,
    )
    .ok()
}

/// Encrypts as WeChat Pay does for notices (the sandbox and tests).
pub fn encrypt_resource(key: &[u8; 32], nonce: &str, aad: &str, plaintext: &[u8]) -> String {
    let mut tag = [0u8; 16];
    let mut ct = openssl::symm::encrypt_aead(
        openssl::symm::Cipher::aes_256_gcm(),
        key,
        Some(nonce.as_bytes()),
        aad.as_bytes(),
        plaintext,
        &mut tag,
    )
    .unwrap_or_default();
    ct.extend_from_slice(&tag);
    b64().encode(ct)
}

/// The platform keys answers and notices may be signed with, by the serial they go under.
#[derive(Clone, Default)]
pub struct PlatformKeys(Vec<(String, RsaPublicKey)>);

impl PlatformKeys {
    pub fn add(&mut self, serial: String, key: RsaPublicKey) {
        self.0.push((serial, key));
    }

    fn get(&self, serial: &str) -> Option<&RsaPublicKey> {
        self.0.iter().find(|(s, _)| s == serial).map(|(_, k)| k)
    }

    pub fn serials(&self) -> Vec<&str> {
        self.0.iter().map(|(s, _)| s.as_str()).collect()
    }
}

/// Why signed headers were not believed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignedError {
    #[error("no Wechatpay-{0} header")]
    Missing(&'static str),
    #[error("signed under serial {0}, which is not configured")]
    UnknownSerial(String),
    #[error("the signature does not verify")]
    Signature,
    #[error("signed {0} s away from our clock")]
    Stale(i64),
}

fn header<'a>(h: &'a HeaderMap, name: &'static str) -> Result<&'a str, SignedError> {
    h.get(format!("wechatpay-{}", name.to_ascii_lowercase()))
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or(SignedError::Missing(name))
}

/// Checks `Wechatpay-Timestamp/-Nonce/-Signature/-Serial` over a raw body at time `now`.
pub fn verify_signed(
    keys: &PlatformKeys,
    h: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), SignedError> {
    let ts = header(h, "Timestamp")?;
    let nonce = header(h, "Nonce")?;
    let sig = header(h, "Signature")?;
    let serial = header(h, "Serial")?;
    let t: i64 = ts.parse().map_err(|_| SignedError::Missing("Timestamp"))?;
    let skew = now.saturating_sub(t);
    if skew.abs() > MAX_SKEW_SECS {
        return Err(SignedError::Stale(skew));
    }
    let key = keys
        .get(serial)
        .ok_or_else(|| SignedError::UnknownSerial(serial.chars().take(64).collect()))?;
    let sig = b64().decode(sig).map_err(|_| SignedError::Signature)?;
    if !key.verify_sha256(&answer_message(ts, nonce, body), &sig) {
        return Err(SignedError::Signature);
    }
    Ok(())
}

/// A WeChat Pay merchant account as configured: identifiers and the files holding its keys.
#[derive(Clone, Debug)]
pub struct Settings {
    pub mchid: String,
    pub appid: String,
    /// The serial number of the merchant's API certificate (names our key in requests).
    pub serial: String,
    pub private_key: std::path::PathBuf,
    pub apiv3_key: std::path::PathBuf,
    /// Public-key mode: WeChat Pay's public key and its id (`PUB_KEY_ID_…`).
    pub public_key: Option<(std::path::PathBuf, String)>,
    /// Platform-certificate mode: WeChat Pay platform certificates (serial read from each).
    pub platform_certs: Vec<std::path::PathBuf>,
    pub base_url: String,
}

fn read(flag: &str, path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::Config(format!("{flag} {}: {e}", path.display())))
}

/// The APIv3 key: the 32 characters set on the merchant platform (a trailing newline allowed).
pub fn apiv3_key(bytes: &[u8]) -> Result<zeroize::Zeroizing<[u8; 32]>, Error> {
    let trimmed = bytes.trim_ascii_end();
    let key: [u8; 32] = trimmed.try_into().map_err(|_| {
        Error::Config(format!(
            "the APIv3 key is 32 characters, this file holds {}",
            trimmed.len()
        ))
    })?;
    Ok(zeroize::Zeroizing::new(key))
}

/// A platform certificate's serial as WeChat Pay writes it in `Wechatpay-Serial`: upper-case hex.
pub fn cert_serial(cert: &openssl::x509::X509Ref) -> Result<String, Error> {
    let bn = cert.serial_number().to_bn().map_err(Error::config)?;
    Ok(crate::ca::encode_hex(&bn.to_vec()).to_ascii_uppercase())
}

impl Settings {
    /// Reads the key files; a flag whose file does not hold what it should is named.
    pub fn load(&self) -> Result<Account, Error> {
        let key = zeroize::Zeroizing::new(read("--wechat-private-key", &self.private_key)?);
        let key = RsaSigner::from_key_file(&key)
            .map_err(|e| Error::Config(format!("--wechat-private-key: {e}")))?;
        let apiv3 = apiv3_key(&zeroize::Zeroizing::new(read(
            "--wechat-apiv3-key",
            &self.apiv3_key,
        )?))
        .map_err(|e| Error::Config(format!("--wechat-apiv3-key: {e}")))?;
        let mut platform = PlatformKeys::default();
        if let Some((path, id)) = &self.public_key {
            let k = RsaPublicKey::from_key_file(&read("--wechat-public-key", path)?)
                .map_err(|e| Error::Config(format!("--wechat-public-key: {e}")))?;
            platform.add(id.clone(), k);
        }
        for path in &self.platform_certs {
            let pem = read("--wechat-platform-cert", path)?;
            let cert = openssl::x509::X509::from_pem(&pem).map_err(|_| {
                Error::Config(format!(
                    "--wechat-platform-cert {}: not a PEM certificate",
                    path.display()
                ))
            })?;
            let k = cert.public_key().map_err(Error::config)?;
            platform.add(cert_serial(&cert)?, RsaPublicKey::from_pkey(&k)?);
        }
        if platform.0.is_empty() {
            return Err(Error::Config("WeChat Pay: --wechat-public-key with --wechat-public-key-id, or --wechat-platform-cert".into()));
        }
        Ok(Account {
            mchid: self.mchid.clone(),
            appid: self.appid.clone(),
            serial: self.serial.clone(),
            key,
            apiv3,
            platform,
            base_url: self.base_url.trim_end_matches('/').to_string(),
        })
    }
}

/// One WeChat Pay merchant account.
pub struct Account {
    pub mchid: String,
    pub appid: String,
    pub serial: String,
    pub key: RsaSigner,
    pub apiv3: zeroize::Zeroizing<[u8; 32]>,
    pub platform: PlatformKeys,
    pub base_url: String,
}

pub struct Wechat {
    account: Account,
    notify_url: String,
    refund_notify_url: String,
    http: reqwest::Client,
}

/// A notice's envelope; its `resource` is what was encrypted.
#[derive(Deserialize)]
struct Envelope {
    event_type: String,
    resource: Resource,
}

#[derive(Deserialize)]
struct Resource {
    algorithm: String,
    ciphertext: String,
    nonce: String,
    #[serde(default)]
    associated_data: String,
}

#[derive(Deserialize)]
struct Amount {
    total: i64,
}

/// A transaction, as notices and queries carry it.
#[derive(Deserialize)]
struct Transaction {
    #[serde(default)]
    appid: String,
    mchid: String,
    out_trade_no: String,
    #[serde(default)]
    transaction_id: String,
    trade_state: String,
    amount: Option<Amount>,
}

#[derive(Deserialize)]
struct RefundResource {
    mchid: String,
    out_refund_no: String,
}

#[derive(Deserialize)]
struct RefundAnswer {
    out_refund_no: String,
    status: String,
}

/// One answer from the API, its signature checked.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl Wechat {
    pub fn new(account: Account, public_url: &str, http: reqwest::Client) -> Result<Self, Error> {
        reqwest::Url::parse(&account.base_url)
            .map_err(|e| Error::Config(format!("--wechat-base-url {}: {e}", account.base_url)))?;
        Ok(Self {
            account,
            notify_url: format!("{public_url}/api/v1/payments/wechat/notify"),
            refund_notify_url: format!("{public_url}/api/v1/payments/wechat/refund-notify"),
            http,
        })
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The `Authorization` header for one request.
    pub fn authorization(&self, method: &str, path_and_query: &str, body: &str, ts: i64) -> String {
        let nonce = crate::random_id(16);
        let sig = self
            .account
            .key
            .sign_sha256(request_message(method, path_and_query, ts, &nonce, body).as_bytes());
        format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{}\",timestamp=\"{ts}\",serial_no=\"{}\"",
            self.account.mchid,
            b64().encode(sig),
            self.account.serial
        )
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        our_id: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Answer, ProviderError> {
        let started = Instant::now();
        let result = self.call_inner(method.clone(), path, body).await;
        let ms = started.elapsed().as_millis() as u64;
        let path = path.split('?').next().unwrap_or(path);
        match &result {
            Ok(a) => {
                tracing::info!(provider = "wechat", method = %method, path, payment = our_id, status = a.status.as_u16(), ms, "provider call")
            }
            Err(e) => {
                tracing::warn!(provider = "wechat", method = %method, path, payment = our_id, ms, error = %e, "provider call failed")
            }
        }
        result
    }

    async fn call_inner(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Answer, ProviderError> {
        let url = reqwest::Url::parse(&format!("{}{path}", self.account.base_url))
            .map_err(|e| ProviderError::Unreachable(e.to_string()))?;
        let signed_path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = self.authorization(method.as_str(), &signed_path, &text, crate::now());
        let mut req = self
            .http
            .request(method.clone(), url)
            .header("Authorization", auth)
            .header("Accept", "application/json")
            // Public-key mode: which WeChat Pay key we expect answers under.
            .header(
                "Wechatpay-Serial",
                self.account
                    .platform
                    .serials()
                    .first()
                    .copied()
                    .unwrap_or_default(),
            );
        if method != reqwest::Method::GET {
            req = req.header("Content-Type", "application/json").body(text);
        }
        let r = req
            .send()
            .await
            .map_err(|e| ProviderError::Unreachable(e.without_url().to_string()))?;
        let status = r.status();
        let headers = r.headers().clone();
        let body = r
            .bytes()
            .await
            .map_err(|e| ProviderError::Unreachable(e.without_url().to_string()))?
            .to_vec();
        let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ProviderError::Unreachable(format!("HTTP {status}")));
        }
        match verify_signed(&self.account.platform, &headers, &body, crate::now()) {
            Ok(()) => {}
            // A refusal may come unsigned (the SDKs do not check them); an answer may not.
            Err(SignedError::Missing(_)) if !status.is_success() => {}
            Err(SignedError::Missing(h)) => {
                return Err(ProviderError::Unreachable(format!(
                    "an unsigned answer (no Wechatpay-{h})"
                )))
            }
            Err(e) => return Err(ProviderError::BadAnswer(e.to_string())),
        }
        if !status.is_success() {
            #[derive(Deserialize)]
            struct Refusal {
                code: String,
                #[serde(default)]
                message: String,
            }
            let r: Refusal = serde_json::from_slice(&body)
                .map_err(|_| ProviderError::Unreachable(format!("HTTP {status} without a code")))?;
            return Err(ProviderError::Refused {
                code: r.code,
                message: r.message,
            });
        }
        Ok(Answer { status, body })
    }

    fn parse<T: serde::de::DeserializeOwned>(a: &Answer) -> Result<T, ProviderError> {
        serde_json::from_slice(&a.body).map_err(|e| ProviderError::BadAnswer(e.to_string()))
    }

    /// Verifies a notice (payment or refund) as received and checks it is for this account.
    pub fn read_notice(&self, h: &HeaderMap, body: &[u8], now: i64) -> Result<Notice, NoticeError> {
        verify_signed(&self.account.platform, h, body, now).map_err(|e| match e {
            SignedError::Stale(_) => NoticeError::Stale,
            SignedError::Missing(_) => NoticeError::Field("Wechatpay- headers"),
            SignedError::UnknownSerial(_) | SignedError::Signature => NoticeError::Signature,
        })?;
        let env: Envelope =
            serde_json::from_slice(body).map_err(|_| NoticeError::Field("notice"))?;
        if env.resource.algorithm != "AEAD_AES_256_GCM" {
            return Err(NoticeError::Field("resource.algorithm"));
        }
        let r = &env.resource;
        let plain = decrypt_resource(
            &self.account.apiv3,
            &r.nonce,
            &r.associated_data,
            &r.ciphertext,
        )
        .ok_or(NoticeError::Decrypt)?;
        match env.event_type.as_str() {
            "TRANSACTION.SUCCESS" => {
                let t: Transaction =
                    serde_json::from_slice(&plain).map_err(|_| NoticeError::Field("resource"))?;
                self.paid(t)
                    .map(|p| p.map_or(Notice::Ignored("not a payment"), Notice::Paid))
            }
            e if e.starts_with("REFUND.") => {
                let r: RefundResource =
                    serde_json::from_slice(&plain).map_err(|_| NoticeError::Field("resource"))?;
                if r.mchid != self.account.mchid {
                    return Err(NoticeError::Merchant);
                }
                Ok(Notice::Refund(r.out_refund_no))
            }
            _ => Ok(Notice::Ignored("an event we do not act on")),
        }
    }

    /// A transaction of ours: the money when it is paid (`SUCCESS`), else None.
    fn paid(&self, t: Transaction) -> Result<Option<Paid>, NoticeError> {
        if t.mchid != self.account.mchid || t.appid != self.account.appid {
            return Err(NoticeError::Merchant);
        }
        if t.trade_state != "SUCCESS" {
            return Ok(None);
        }
        if t.out_trade_no.is_empty() {
            return Err(NoticeError::Field("out_trade_no"));
        }
        if t.transaction_id.is_empty() {
            return Err(NoticeError::Field("transaction_id"));
        }
        let total = t
            .amount
            .map(|a| a.total)
            .filter(|a| *a > 0)
            .ok_or(NoticeError::Field("amount.total"))?;
        Ok(Some(Paid {
            payment_id: t.out_trade_no,
            trade_no: t.transaction_id,
            amount_fen: total,
        }))
    }

    fn refund_state(a: &RefundAnswer, id: &str) -> Result<RefundState, ProviderError> {
        if a.out_refund_no != id {
            return Err(ProviderError::BadAnswer(
                "the answer is about another refund".into(),
            ));
        }
        match a.status.as_str() {
            "SUCCESS" => Ok(RefundState::Done),
            "PROCESSING" => Ok(RefundState::Processing),
            // CLOSED, ABNORMAL: the money did not reach the payer; a person must look.
            other => Err(ProviderError::Refused {
                code: other.to_string(),
                message: "the refund did not reach the payer".into(),
            }),
        }
    }
}

#[async_trait::async_trait]
impl PaymentProvider for Wechat {
    fn name(&self) -> &'static str {
        "wechat"
    }

    fn methods(&self) -> &'static [PaymentMethod] {
        &[PaymentMethod::WechatNative]
    }

    async fn create(
        &self,
        method: PaymentMethod,
        t: &NewTrade<'_>,
    ) -> Result<Created, ProviderError> {
        if method != PaymentMethod::WechatNative {
            return Err(ProviderError::Refused {
                code: "METHOD".into(),
                message: "not a WeChat Pay method".into(),
            });
        }
        let a = &self.account;
        let body = serde_json::json!({
            "appid": a.appid,
            "mchid": a.mchid,
            "description": t.subject,
            "out_trade_no": t.id,
            "time_expire": rfc3339_gmt8(t.expires_at),
            "notify_url": self.notify_url,
            "amount": { "total": t.amount_fen, "currency": "CNY" },
        });
        let answer = self
            .call(
                reqwest::Method::POST,
                "/v3/pay/transactions/native",
                t.id,
                Some(body),
            )
            .await?;
        #[derive(Deserialize)]
        struct Native {
            code_url: String,
        }
        let n: Native = Self::parse(&answer)?;
        if n.code_url.is_empty() {
            return Err(ProviderError::BadAnswer("no code_url".into()));
        }
        // The code is for a phone's WeChat only: no page a browser could open.
        Ok(Created {
            qr_payload: Some(n.code_url),
            pay_url: None,
        })
    }

    fn verify_notice(&self, headers: &HeaderMap, body: &[u8]) -> Result<Notice, NoticeError> {
        let notice = self.read_notice(headers, body, crate::now());
        match &notice {
            Ok(Notice::Paid(p)) => {
                tracing::info!(provider = "wechat", payment = %p.payment_id, "payment notice verified")
            }
            Ok(Notice::Refund(id)) => {
                tracing::info!(provider = "wechat", refund = %id, "refund notice verified")
            }
            Ok(Notice::Ignored(why)) => tracing::info!(
                provider = "wechat",
                why,
                "notice acknowledged, nothing to record"
            ),
            Err(e) => tracing::warn!(provider = "wechat", error = %e, "payment notice refused"),
        }
        notice
    }

    fn notice_taken(&self) -> axum::response::Response {
        // 200/204 without a body: received (anything else is resent).
        axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT)
    }

    fn notice_refused(&self, status: StatusCode, why: &str) -> axum::response::Response {
        axum::response::IntoResponse::into_response((
            status,
            axum::Json(serde_json::json!({ "code": "FAIL", "message": why })),
        ))
    }

    async fn query(&self, payment_id: &str) -> Result<TradeState, ProviderError> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{payment_id}?mchid={}",
            self.account.mchid
        );
        let answer = match self
            .call(reqwest::Method::GET, &path, payment_id, None)
            .await
        {
            Err(ProviderError::Refused { code, .. }) if code == "ORDER_NOT_EXIST" => {
                return Ok(TradeState::NotFound)
            }
            other => other?,
        };
        let t: Transaction = Self::parse(&answer)?;
        if t.out_trade_no != payment_id {
            return Err(ProviderError::BadAnswer(
                "the answer is about another trade".into(),
            ));
        }
        let state = t.trade_state.clone();
        Ok(match state.as_str() {
            "SUCCESS" => TradeState::Paid(
                self.paid(t)
                    .map_err(|e| ProviderError::BadAnswer(e.to_string()))?
                    .ok_or_else(|| ProviderError::BadAnswer("not paid".into()))?,
            ),
            "NOTPAY" | "USERPAYING" => TradeState::Waiting,
            // REFUND: paid, then refunded; CLOSED, REVOKED, PAYERROR: never paid.
            "CLOSED" | "REVOKED" | "PAYERROR" | "REFUND" => TradeState::Closed,
            other => return Err(ProviderError::BadAnswer(format!("trade_state {other:?}"))),
        })
    }

    async fn close(&self, payment_id: &str) -> Result<(), ProviderError> {
        let path = format!("/v3/pay/transactions/out-trade-no/{payment_id}/close");
        let body = serde_json::json!({ "mchid": self.account.mchid });
        match self
            .call(reqwest::Method::POST, &path, payment_id, Some(body))
            .await
        {
            Ok(_) => Ok(()),
            // A code nobody scanned: no trade at WeChat Pay, nothing can pay it.
            Err(ProviderError::Refused { code, .. }) if code == "ORDER_NOT_EXIST" => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn refund(&self, r: &RefundRequest<'_>) -> Result<RefundState, ProviderError> {
        let reason: String = r.reason.chars().take(80).collect();
        let body = serde_json::json!({
            "out_trade_no": r.payment_id,
            "out_refund_no": r.id,
            "reason": reason,
            "notify_url": self.refund_notify_url,
            "amount": { "refund": r.amount_fen, "total": r.total_fen, "currency": "CNY" },
        });
        let answer = self
            .call(
                reqwest::Method::POST,
                "/v3/refund/domestic/refunds",
                r.payment_id,
                Some(body),
            )
            .await?;
        Self::refund_state(&Self::parse(&answer)?, r.id)
    }

    async fn query_refund(&self, r: &RefundRequest<'_>) -> Result<RefundState, ProviderError> {
        let path = format!("/v3/refund/domestic/refunds/{}", r.id);
        match self
            .call(reqwest::Method::GET, &path, r.payment_id, None)
            .await
        {
            Err(ProviderError::Refused { code, .. }) if code == "RESOURCE_NOT_EXISTS" => {
                Ok(RefundState::NotFound)
            }
            Err(e) => Err(e),
            Ok(answer) => Self::refund_state(&Self::parse(&answer)?, r.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (RsaSigner, PlatformKeys) {
        let (k, _) = RsaSigner::generate().unwrap();
        let mut p = PlatformKeys::default();
        p.add("PUB_KEY_ID_0111".into(), k.public_key());
        (k, p)
    }

    fn signed(k: &RsaSigner, ts: i64, serial: &str, body: &[u8]) -> HeaderMap {
        let sig = b64().encode(k.sign_sha256(&answer_message(&ts.to_string(), "n0nce", body)));
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("wechatpay-timestamp", ts.to_string()),
            ("wechatpay-nonce", "n0nce".into()),
            ("wechatpay-signature", sig),
            ("wechatpay-serial", serial.into()),
        ] {
            h.insert(n, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn signed_headers_are_checked_for_key_time_and_bytes() {
        let (k, p) = keys();
        let body = br#"{"a":1}"#;
        let t = 1_796_142_605;
        assert_eq!(
            verify_signed(&p, &signed(&k, t, "PUB_KEY_ID_0111", body), body, t + 300),
            Ok(())
        );
        assert_eq!(
            verify_signed(&p, &signed(&k, t, "PUB_KEY_ID_0111", body), body, t + 301),
            Err(SignedError::Stale(301))
        );
        assert_eq!(
            verify_signed(
                &p,
                &signed(&k, t, "PUB_KEY_ID_0111", body),
                br#"{"a":2}"#,
                t
            ),
            Err(SignedError::Signature)
        );
        assert!(matches!(
            verify_signed(&p, &signed(&k, t, "PUB_KEY_ID_0999", body), body, t),
            Err(SignedError::UnknownSerial(_))
        ));
        assert_eq!(
            verify_signed(&p, &HeaderMap::new(), body, t),
            Err(SignedError::Missing("Timestamp"))
        );
    }

    #[test]
    fn resources_round_trip_and_a_changed_byte_fails() {
        let key = [7u8; 32];
        let ct = encrypt_resource(&key, "0123456789ab", "transaction", b"{\"x\":1}");
        assert_eq!(
            decrypt_resource(&key, "0123456789ab", "transaction", &ct).as_deref(),
            Some(&b"{\"x\":1}"[..])
        );
        let mut raw = b64().decode(&ct).unwrap();
        raw[0] ^= 1;
        assert_eq!(
            decrypt_resource(&key, "0123456789ab", "transaction", &b64().encode(&raw)),
            None
        );
        assert_eq!(decrypt_resource(&key, "0123456789ab", "other", &ct), None);
        assert_eq!(decrypt_resource(&key, "0123456789ab", "", "AAAA"), None);
        assert_eq!(
            decrypt_resource(&key, "0123456789ab", "", "not base64!"),
            None
        );
    }

    #[test]
    fn times_are_china_standard_time() {
        assert_eq!(rfc3339_gmt8(1_796_142_605), "2026-12-02T00:30:05+08:00");
    }

    #[test]
    fn the_apiv3_key_is_32_characters() {
        assert!(apiv3_key(b"0123456789abcdef0123456789abcdef\n").is_ok());
        assert!(apiv3_key(b"short").is_err());
    }

    #[test]
    fn the_request_message_ends_every_line() {
        assert_eq!(
            request_message("GET", "/v3/x?mchid=1", 5, "n", ""),
            "GET\n/v3/x?mchid=1\n5\nn\n\n"
        );
    }
}
