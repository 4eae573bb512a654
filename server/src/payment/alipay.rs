//! Alipay's open platform gateway (the "v2" API, RSA2): requests signed over the sorted
//! parameters, responses verified over the raw `<method>_response` JSON, asynchronous notices
//! verified and checked against our account. Both key modes: the Alipay public key, or the
//! public-key certificates (`app_cert_sn`, `alipay_root_cert_sn`).

use super::{
    Created, NewTrade, Notice, NoticeError, Paid, PaymentProvider, ProviderError, RefundRequest,
    RefundState, TradeState,
};
use crate::fault::Error;
use crate::sig::{RsaPublicKey, RsaSigner};
use api::PaymentMethod;
use base64::Engine;
use std::collections::BTreeMap;
use std::time::Instant;

pub type Params = BTreeMap<String, String>;

/// Alipay's production gateway.
pub const GATEWAY: &str = "https://openapi.alipay.com/gateway.do";

/// The string a signature covers: every parameter except `sign` and `sign_type`, sorted by key,
/// `k=v` joined with `&` (empty values skipped), raw values, exactly as Alipay defines it. That
/// rule is only unambiguous while no key holds `&` or `=` and no value holds `&` (else `a=1&b=2`
/// is both one parameter and two): parameters it cannot carry are refused (`None`), never signed
/// or believed. (Requests keep `sign_type` in the string; `request_signing_string`.)
pub fn signing_string(params: &Params) -> Option<String> {
    canonical(params, &["sign", "sign_type"])
}

/// What a request's signature covers: as a notice's, but `sign_type` included.
pub fn request_signing_string(params: &Params) -> Option<String> {
    canonical(params, &["sign"])
}

fn canonical(params: &Params, skip: &[&str]) -> Option<String> {
    let mut out = String::new();
    for (k, v) in params {
        if skip.contains(&k.as_str()) || v.is_empty() {
            continue;
        }
        if k.is_empty() || k.contains(['&', '=']) || v.contains('&') {
            return None;
        }
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    Some(out)
}

fn b64(sig: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sig)
}

/// Signs notice-style parameters (the sandbox's notices and answers).
pub fn sign_params(key: &RsaSigner, params: &Params) -> String {
    b64(&key.sign_sha256(signing_string(params).unwrap_or_default().as_bytes()))
}

/// A notice's signature (`sign`, `sign_type=RSA2`) over `signing_string`.
pub fn verify_params(key: &RsaPublicKey, params: &Params) -> bool {
    let Some(sig) = params
        .get("sign")
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
    else {
        return false;
    };
    if params.get("sign_type").map(String::as_str) != Some("RSA2") {
        return false;
    }
    let Some(text) = signing_string(params) else {
        return false;
    };
    key.verify_sha256(text.as_bytes(), &sig)
}

/// A request's signature, as the gateway checks it (`sign_type` is signed).
pub fn verify_request(key: &RsaPublicKey, params: &Params) -> bool {
    let sig = params
        .get("sign")
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
    match (sig, request_signing_string(params)) {
        (Some(sig), Some(text)) => key.verify_sha256(text.as_bytes(), &sig),
        _ => false,
    }
}

/// `yyyy-MM-dd HH:mm:ss` in China Standard Time, as the gateway wants its timestamps.
pub fn gmt8(t: i64) -> String {
    let (y, m, d) = crate::china_date(t);
    let s = (t + 8 * 3600).rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// `<method>_response`: where the gateway puts a method's answer.
pub fn response_key(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// The raw text of a response's content (what its signature covers), its signature and the
/// certificate serial it names, from the gateway's JSON body.
pub fn response_parts(
    body: &str,
    method: &str,
) -> Result<(String, Option<String>, Option<String>), Error> {
    let map: BTreeMap<String, &serde_json::value::RawValue> = serde_json::from_str(body)
        .map_err(|e| Error::Provider(format!("not a gateway answer: {e}")))?;
    let content = map
        .get(&response_key(method))
        .or_else(|| map.get("error_response"))
        .ok_or(Error::Provider("the answer holds no response".into()))?;
    let text = |k: &str| {
        map.get(k)
            .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
    };
    Ok((
        content.get().to_string(),
        text("sign"),
        text("alipay_cert_sn"),
    ))
}

/// The SN Alipay gives a certificate: MD5 (hex) of the issuer's RDNs, last first, as
/// `short=value` joined by `,`, followed by the serial number in decimal.
pub fn cert_sn(cert: &openssl::x509::X509Ref) -> Result<String, Error> {
    let issuer: Vec<String> = cert
        .issuer_name()
        .entries()
        .map(|e| {
            let name = e.object().nid().short_name().unwrap_or("");
            let value = e.data().to_string().unwrap_or_default();
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let serial = cert
        .serial_number()
        .to_bn()
        .and_then(|b| b.to_dec_str().map(|s| s.to_string()))
        .map_err(Error::config)?;
    let digest = openssl::hash::hash(
        openssl::hash::MessageDigest::md5(),
        format!("{}{serial}", issuer.join(",")).as_bytes(),
    )
    .map_err(Error::config)?;
    Ok(crate::ca::encode_hex(&digest))
}

/// The root SN: the SNs of the chain's RSA-signed certificates, joined by `_`.
pub fn root_cert_sn(pem: &[u8]) -> Result<String, Error> {
    let certs = openssl::x509::X509::stack_from_pem(pem).map_err(Error::config)?;
    let mut sns = vec![];
    for c in &certs {
        if signature_oid(c).starts_with("1.2.840.113549.1.1") {
            sns.push(cert_sn(c)?);
        }
    }
    if sns.is_empty() {
        return Err(Error::Config(
            "the root certificate file holds no RSA-signed certificate".into(),
        ));
    }
    Ok(sns.join("_"))
}

/// A certificate's signature algorithm as a dotted OID (openssl names only the ones it knows).
fn signature_oid(c: &openssl::x509::X509Ref) -> String {
    use der::Decode;
    c.to_der()
        .ok()
        .and_then(|d| x509_cert::Certificate::from_der(&d).ok())
        .map(|c| c.signature_algorithm().oid.to_string())
        .unwrap_or_default()
}

/// How this account proves the gateway's answers are Alipay's, and names its own key.
#[derive(Clone)]
pub enum KeyMode {
    /// The Alipay public key, as downloaded from the open platform.
    PublicKey(RsaPublicKey),
    /// Public-key certificates: the app's certificate SN, the Alipay root SN, and the Alipay
    /// public certificate (its key checks the answers; its SN must match theirs).
    Certificates {
        app_cert_sn: String,
        root_cert_sn: String,
        alipay_cert_sn: String,
        alipay_key: RsaPublicKey,
    },
}

impl KeyMode {
    pub fn from_certificates(
        app_cert: &[u8],
        alipay_cert: &[u8],
        root_cert: &[u8],
    ) -> Result<Self, Error> {
        let app = openssl::x509::X509::from_pem(app_cert)
            .map_err(|_| Error::Config("--alipay-app-cert: not a PEM certificate".into()))?;
        let alipay = openssl::x509::X509::from_pem(alipay_cert)
            .map_err(|_| Error::Config("--alipay-public-cert: not a PEM certificate".into()))?;
        let key = alipay.public_key().map_err(Error::config)?;
        Ok(Self::Certificates {
            app_cert_sn: cert_sn(&app)?,
            root_cert_sn: root_cert_sn(root_cert)
                .map_err(|e| Error::Config(format!("--alipay-root-cert: {e}")))?,
            alipay_cert_sn: cert_sn(&alipay)?,
            alipay_key: RsaPublicKey::from_pkey(&key)?,
        })
    }

    fn alipay_key(&self) -> &RsaPublicKey {
        match self {
            Self::PublicKey(k) => k,
            Self::Certificates { alipay_key, .. } => alipay_key,
        }
    }
}

/// An Alipay account as configured: identifiers and the files holding its keys.
#[derive(Clone, Debug)]
pub struct Settings {
    pub app_id: String,
    pub seller_id: String,
    pub private_key: std::path::PathBuf,
    pub keys: KeyFiles,
    pub gateway: String,
}

#[derive(Clone, Debug)]
pub enum KeyFiles {
    PublicKey(std::path::PathBuf),
    Certificates {
        app_cert: std::path::PathBuf,
        public_cert: std::path::PathBuf,
        root_cert: std::path::PathBuf,
    },
}

fn read(flag: &str, path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::Config(format!("{flag} {}: {e}", path.display())))
}

impl Settings {
    /// Reads the key files; a flag's file that does not hold what it should is named.
    pub fn load(&self) -> Result<Account, Error> {
        let key = zeroize::Zeroizing::new(read("--alipay-private-key", &self.private_key)?);
        let key = RsaSigner::from_key_file(&key)
            .map_err(|e| Error::Config(format!("--alipay-private-key: {e}")))?;
        let mode = match &self.keys {
            KeyFiles::PublicKey(path) => KeyMode::PublicKey(
                RsaPublicKey::from_key_file(&read("--alipay-public-key", path)?)
                    .map_err(|e| Error::Config(format!("--alipay-public-key: {e}")))?,
            ),
            KeyFiles::Certificates {
                app_cert,
                public_cert,
                root_cert,
            } => KeyMode::from_certificates(
                &read("--alipay-app-cert", app_cert)?,
                &read("--alipay-public-cert", public_cert)?,
                &read("--alipay-root-cert", root_cert)?,
            )?,
        };
        Ok(Account {
            app_id: self.app_id.clone(),
            seller_id: self.seller_id.clone(),
            key,
            mode,
            gateway: self.gateway.clone(),
        })
    }
}

/// One Alipay merchant account (an application on the open platform).
pub struct Account {
    pub app_id: String,
    /// The merchant's Alipay user id (2088…), which notices name as `seller_id`.
    pub seller_id: String,
    pub key: RsaSigner,
    pub mode: KeyMode,
    pub gateway: String,
}

pub struct Alipay {
    account: Account,
    notify_url: String,
    return_url: String,
    http: reqwest::Client,
}

impl Alipay {
    pub fn new(account: Account, public_url: &str, http: reqwest::Client) -> Result<Self, Error> {
        reqwest::Url::parse(&account.gateway)
            .map_err(|e| Error::Config(format!("--alipay-gateway {}: {e}", account.gateway)))?;
        Ok(Self {
            account,
            notify_url: format!("{public_url}/api/v1/payments/alipay/notify"),
            return_url: format!("{public_url}/"),
            http,
        })
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    /// A signed request: the common parameters, `biz_content`, `sign`.
    pub fn request(&self, method: &str, biz: &serde_json::Value, notify: bool, t: i64) -> Params {
        let a = &self.account;
        let mut p = Params::new();
        for (k, v) in [
            ("app_id", a.app_id.as_str()),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("version", "1.0"),
        ] {
            p.insert(k.into(), v.into());
        }
        p.insert("timestamp".into(), gmt8(t));
        p.insert("biz_content".into(), biz.to_string());
        if notify {
            p.insert("notify_url".into(), self.notify_url.clone());
        }
        if let KeyMode::Certificates {
            app_cert_sn,
            root_cert_sn,
            ..
        } = &a.mode
        {
            p.insert("app_cert_sn".into(), app_cert_sn.clone());
            p.insert("alipay_root_cert_sn".into(), root_cert_sn.clone());
        }
        // Our own values never hold '&' (JSON escapes nothing into one, but a subject could):
        // biz_content is JSON, and serde_json writes '&' raw, so it is escaped as \u0026.
        if let Some(b) = p.get_mut("biz_content") {
            *b = b.replace('&', "\\u0026");
        }
        let text = request_signing_string(&p).unwrap_or_default();
        p.insert("sign".into(), b64(&a.key.sign_sha256(text.as_bytes())));
        p
    }

    /// Calls one gateway method; the answer's content when its signature holds and its code is
    /// 10000, a typed refusal when signed and not.
    async fn call(
        &self,
        method: &str,
        our_id: &str,
        biz: serde_json::Value,
        notify: bool,
    ) -> Result<serde_json::Map<String, serde_json::Value>, ProviderError> {
        let started = Instant::now();
        let result = self.call_inner(method, biz, notify).await;
        let ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => tracing::info!(
                provider = "alipay",
                method,
                payment = our_id,
                ms,
                "provider call"
            ),
            Err(e) => {
                tracing::warn!(provider = "alipay", method, payment = our_id, ms, error = %e, "provider call failed")
            }
        }
        result
    }

    async fn call_inner(
        &self,
        method: &str,
        biz: serde_json::Value,
        notify: bool,
    ) -> Result<serde_json::Map<String, serde_json::Value>, ProviderError> {
        let p = self.request(method, &biz, notify, crate::now());
        // Like the SDKs: the common parameters in the query, biz_content in the form body.
        let mut url = reqwest::Url::parse(&self.account.gateway)
            .map_err(|e| ProviderError::Unreachable(e.to_string()))?;
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in p.iter().filter(|(k, _)| *k != "biz_content") {
                q.append_pair(k, v);
            }
        }
        let body = [("biz_content", p["biz_content"].as_str())];
        let r = self
            .http
            .post(url)
            .form(&body)
            .send()
            .await
            .map_err(|e| ProviderError::Unreachable(e.without_url().to_string()))?;
        if !r.status().is_success() {
            return Err(ProviderError::Unreachable(format!("HTTP {}", r.status())));
        }
        let body = r
            .text()
            .await
            .map_err(|e| ProviderError::Unreachable(e.without_url().to_string()))?;
        self.read_answer(method, &body)
    }

    /// Checks a gateway answer: signature over the raw content, the certificate it names.
    pub fn read_answer(
        &self,
        method: &str,
        body: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, ProviderError> {
        let (content, sign, sn) =
            response_parts(body, method).map_err(|e| ProviderError::BadAnswer(e.to_string()))?;
        let sig = sign
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .ok_or_else(|| ProviderError::Unreachable("an unsigned answer".into()))?;
        if !self
            .account
            .mode
            .alipay_key()
            .verify_sha256(content.as_bytes(), &sig)
        {
            return Err(ProviderError::BadAnswer(
                "the answer's signature does not verify".into(),
            ));
        }
        if let (KeyMode::Certificates { alipay_cert_sn, .. }, Some(sn)) = (&self.account.mode, sn) {
            if &sn != alipay_cert_sn {
                return Err(ProviderError::BadAnswer(format!(
                    "the answer names certificate {sn}, not ours"
                )));
            }
        }
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&content).map_err(|e| ProviderError::BadAnswer(e.to_string()))?;
        let field = |k: &str| {
            map.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        if field("code") != "10000" {
            let code = match field("sub_code") {
                s if s.is_empty() => field("code"),
                s => s,
            };
            return Err(ProviderError::Refused {
                code,
                message: field("sub_msg"),
            });
        }
        Ok(map)
    }

    /// Verifies a notice's parameters and checks it is for this account.
    pub fn verify_params(&self, p: &Params) -> Result<Notice, NoticeError> {
        if !verify_params(self.account.mode.alipay_key(), p) {
            return Err(NoticeError::Signature);
        }
        let get = |k: &'static str| {
            p.get(k)
                .filter(|v| !v.is_empty())
                .ok_or(NoticeError::Field(k))
        };
        if get("app_id")? != &self.account.app_id || get("seller_id")? != &self.account.seller_id {
            return Err(NoticeError::Merchant);
        }
        let status = get("trade_status")?;
        if p.contains_key("refund_fee") || p.contains_key("gmt_refund") {
            return Ok(Notice::Ignored("a refund's notice"));
        }
        if !matches!(status.as_str(), "TRADE_SUCCESS" | "TRADE_FINISHED") {
            return Ok(Notice::Ignored("not a payment"));
        }
        Ok(Notice::Paid(paid(
            p.get("out_trade_no"),
            p.get("trade_no"),
            p.get("total_amount"),
        )?))
    }
}

fn paid(
    id: Option<&String>,
    trade: Option<&String>,
    amount: Option<&String>,
) -> Result<Paid, NoticeError> {
    let nonempty = |v: Option<&String>, k| {
        v.filter(|v| !v.is_empty())
            .cloned()
            .ok_or(NoticeError::Field(k))
    };
    Ok(Paid {
        payment_id: nonempty(id, "out_trade_no")?,
        trade_no: nonempty(trade, "trade_no")?,
        amount_fen: amount
            .and_then(|a| api::parse_yuan(a))
            .ok_or(NoticeError::Field("total_amount"))?,
    })
}

fn text(map: &serde_json::Map<String, serde_json::Value>, k: &str) -> Option<String> {
    map.get(k).and_then(|v| v.as_str()).map(str::to_string)
}

/// Parses a form body exactly once (no second percent-decoding); a repeated key is refused,
/// as it could mean two things.
pub fn form_params(body: &[u8]) -> Result<Params, NoticeError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| NoticeError::Field("form"))?;
    let mut p = Params::new();
    for (k, v) in pairs {
        if p.insert(k, v).is_some() {
            return Err(NoticeError::Field("repeated parameter"));
        }
    }
    Ok(p)
}

#[async_trait::async_trait]
impl PaymentProvider for Alipay {
    fn name(&self) -> &'static str {
        "alipay"
    }

    fn methods(&self) -> &'static [PaymentMethod] {
        &[PaymentMethod::AlipayQr, PaymentMethod::AlipayPage]
    }

    async fn create(
        &self,
        method: PaymentMethod,
        t: &NewTrade<'_>,
    ) -> Result<Created, ProviderError> {
        let mut biz = serde_json::json!({
            "out_trade_no": t.id,
            "total_amount": api::yuan(t.amount_fen),
            "subject": t.subject,
            "time_expire": gmt8(t.expires_at),
        });
        match method {
            PaymentMethod::AlipayQr => {
                let answer = self.call("alipay.trade.precreate", t.id, biz, true).await?;
                let qr = text(&answer, "qr_code")
                    .filter(|q| !q.is_empty())
                    .ok_or_else(|| ProviderError::BadAnswer("no qr_code".into()))?;
                Ok(Created {
                    qr_payload: Some(qr.clone()),
                    pay_url: Some(qr),
                })
            }
            PaymentMethod::AlipayPage => {
                biz["product_code"] = "FAST_INSTANT_TRADE_PAY".into();
                let mut p = self.request("alipay.trade.page.pay", &biz, true, crate::now());
                p.insert("return_url".into(), self.return_url.clone());
                // return_url is signed too: sign again with it in.
                p.remove("sign");
                let text = request_signing_string(&p).unwrap_or_default();
                p.insert(
                    "sign".into(),
                    b64(&self.account.key.sign_sha256(text.as_bytes())),
                );
                let mut url = reqwest::Url::parse(&self.account.gateway)
                    .map_err(|e| ProviderError::Unreachable(e.to_string()))?;
                url.query_pairs_mut().extend_pairs(p.iter());
                tracing::info!(
                    provider = "alipay",
                    method = "alipay.trade.page.pay",
                    payment = t.id,
                    "payment page made"
                );
                Ok(Created {
                    qr_payload: None,
                    pay_url: Some(url.to_string()),
                })
            }
            PaymentMethod::WechatNative => Err(ProviderError::Refused {
                code: "METHOD".into(),
                message: "not an Alipay method".into(),
            }),
        }
    }

    fn verify_notice(
        &self,
        _headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<Notice, NoticeError> {
        let notice = self.verify_params(&form_params(body)?);
        match &notice {
            Ok(Notice::Paid(p)) => {
                tracing::info!(provider = "alipay", payment = %p.payment_id, "payment notice verified")
            }
            Ok(Notice::Refund(id)) => {
                tracing::info!(provider = "alipay", refund = %id, "refund notice verified")
            }
            Ok(Notice::Ignored(why)) => tracing::info!(
                provider = "alipay",
                why,
                "notice acknowledged, nothing to record"
            ),
            Err(e) => tracing::warn!(provider = "alipay", error = %e, "payment notice refused"),
        }
        notice
    }

    fn notice_taken(&self) -> axum::response::Response {
        axum::response::IntoResponse::into_response("success")
    }

    async fn query(&self, payment_id: &str) -> Result<TradeState, ProviderError> {
        let biz = serde_json::json!({ "out_trade_no": payment_id });
        let answer = match self
            .call("alipay.trade.query", payment_id, biz, false)
            .await
        {
            Err(ProviderError::Refused { code, .. }) if code == "ACQ.TRADE_NOT_EXIST" => {
                return Ok(TradeState::NotFound)
            }
            other => other?,
        };
        if text(&answer, "out_trade_no").as_deref() != Some(payment_id) {
            return Err(ProviderError::BadAnswer(
                "the answer is about another trade".into(),
            ));
        }
        Ok(match text(&answer, "trade_status").as_deref() {
            Some("TRADE_SUCCESS" | "TRADE_FINISHED") => TradeState::Paid(
                paid(
                    answer
                        .get("out_trade_no")
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                        .as_ref(),
                    text(&answer, "trade_no").as_ref(),
                    text(&answer, "total_amount").as_ref(),
                )
                .map_err(|e| ProviderError::BadAnswer(e.to_string()))?,
            ),
            Some("WAIT_BUYER_PAY") => TradeState::Waiting,
            Some("TRADE_CLOSED") => TradeState::Closed,
            other => return Err(ProviderError::BadAnswer(format!("trade_status {other:?}"))),
        })
    }

    async fn close(&self, payment_id: &str) -> Result<(), ProviderError> {
        let biz = serde_json::json!({ "out_trade_no": payment_id });
        match self
            .call("alipay.trade.close", payment_id, biz, false)
            .await
        {
            Ok(_) => Ok(()),
            // A QR code nobody scanned: Alipay never made the trade, nothing can pay it.
            Err(ProviderError::Refused { code, .. }) if code == "ACQ.TRADE_NOT_EXIST" => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn refund(&self, r: &RefundRequest<'_>) -> Result<RefundState, ProviderError> {
        let biz = serde_json::json!({
            "out_trade_no": r.payment_id,
            "refund_amount": api::yuan(r.amount_fen),
            "out_request_no": r.id,
            "refund_reason": r.reason,
        });
        let answer = self
            .call("alipay.trade.refund", r.payment_id, biz, false)
            .await?;
        // "Y": money moved by this call. Otherwise (a repeat) the refund query says.
        if text(&answer, "fund_change").as_deref() == Some("Y") {
            Ok(RefundState::Done)
        } else {
            self.query_refund(r).await
        }
    }

    async fn query_refund(&self, r: &RefundRequest<'_>) -> Result<RefundState, ProviderError> {
        let biz = serde_json::json!({
            "out_trade_no": r.payment_id,
            "out_request_no": r.id,
        });
        let answer = self
            .call(
                "alipay.trade.fastpay.refund.query",
                r.payment_id,
                biz,
                false,
            )
            .await?;
        Ok(match text(&answer, "refund_status").as_deref() {
            Some("REFUND_SUCCESS") => RefundState::Done,
            // No refund_amount: Alipay has no refund under this request number.
            _ if text(&answer, "refund_amount").is_none() => RefundState::NotFound,
            _ => RefundState::Processing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_signing_string_never_means_two_things() {
        // Before: both gave "a=1&b=2", so a signature over one vouched for the other.
        let two = params(&[("a", "1"), ("b", "2")]);
        assert_eq!(signing_string(&two).as_deref(), Some("a=1&b=2"));
        for bad in [
            params(&[("a", "1&b=2")]),
            params(&[("a=1&b", "2")]),
            params(&[("", "x")]),
        ] {
            assert_eq!(signing_string(&bad), None, "{bad:?}");
        }
        // '=' in a value is fine: the first '=' ends the key, which cannot hold one.
        assert_eq!(
            signing_string(&params(&[("a", "x=y"), ("sign", "s"), ("z", "")])).as_deref(),
            Some("a=x=y")
        );
        assert_eq!(
            request_signing_string(&params(&[("b", "1"), ("sign_type", "RSA2"), ("sign", "s")]))
                .as_deref(),
            Some("b=1&sign_type=RSA2")
        );
    }

    #[test]
    fn timestamps_are_china_standard_time() {
        // 2026-12-01T16:30:05Z is 2026-12-02 00:30:05 in Beijing.
        assert_eq!(gmt8(1_796_142_605), "2026-12-02 00:30:05");
    }

    #[test]
    fn the_signed_content_is_the_raw_text() {
        let body = r#"{"alipay_trade_query_response":{"code":"10000","msg":"Success","total_amount":"1.50"},"sign":"c2ln","alipay_cert_sn":"abc"}"#;
        let (content, sign, sn) = response_parts(body, "alipay.trade.query").unwrap();
        assert_eq!(
            content,
            r#"{"code":"10000","msg":"Success","total_amount":"1.50"}"#
        );
        assert_eq!(
            (sign.as_deref(), sn.as_deref()),
            (Some("c2ln"), Some("abc"))
        );
        assert!(response_parts("[]", "alipay.trade.query").is_err());
        assert!(response_parts(r#"{"x":1}"#, "alipay.trade.query").is_err());
    }

    #[test]
    fn a_repeated_form_key_is_refused() {
        assert!(form_params(b"a=1&a=2").is_err());
        let p = form_params(b"a=%2541&b=x+y").unwrap();
        // Decoded once: %25 is '%', the '41' stays.
        assert_eq!(p["a"], "%41");
        assert_eq!(p["b"], "x y");
    }
}
