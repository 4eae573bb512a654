//! Payments: the `PaymentProvider` seam, one adapter per provider (Alipay's open platform
//! gateway, WeChat Pay APIv3; the sandbox is a local Alipay speaking the same wire format), and what the rest of
//! the server sees of them — trades created, notices verified, queries, closes and refunds.

pub mod alipay;
pub mod sandbox;
pub mod wechat;

pub use alipay::{sign_params, signing_string, verify_params, Params};
pub use sandbox::Sandbox;

use api::PaymentMethod;
use std::sync::Arc;

/// What a provider is asked to create: one of our payments (`id` is the provider's
/// `out_trade_no`). The subject names the order only, never the applicant.
#[derive(Clone, Debug)]
pub struct NewTrade<'a> {
    pub id: &'a str,
    pub amount_fen: i64,
    pub subject: &'a str,
    /// Unix time after which the provider must not take the money.
    pub expires_at: i64,
}

/// How the payer pays: a QR code a phone scans, and/or a page to open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Created {
    pub qr_payload: Option<String>,
    pub pay_url: Option<String>,
}

/// What the provider's books say about a trade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TradeState {
    Paid(Paid),
    /// Created, not paid (yet).
    Waiting,
    /// Closed unpaid, or paid and refunded in full.
    Closed,
    /// The provider has no such trade (a QR code never scanned).
    NotFound,
}

/// Money the provider vouches for: its trade number and the amount, in fen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paid {
    pub payment_id: String,
    pub trade_no: String,
    pub amount_fen: i64,
}

/// A verified notice: money paid, or something acknowledged and not acted on (a refund's own
/// notice, a closed trade).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    Paid(Paid),
    /// A refund of ours (`out_refund_no`) changed state: ask the provider about it now.
    Refund(String),
    Ignored(&'static str),
}

/// A refund as asked of the provider; `id` is the idempotency key (`out_request_no`,
/// `out_refund_no`): asking twice refunds once.
#[derive(Clone, Debug)]
pub struct RefundRequest<'a> {
    pub id: &'a str,
    pub payment_id: &'a str,
    pub amount_fen: i64,
    pub total_fen: i64,
    pub reason: &'a str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundState {
    /// The money is back with the payer.
    Done,
    /// Accepted, not finished: ask again later.
    Processing,
    /// The provider has no such refund (ask for it again).
    NotFound,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No answer, or one that is not the provider's (transport, HTTP status, unsigned or badly
    /// signed body): nothing is known, try later.
    #[error("provider unreachable: {0}")]
    Unreachable(String),
    #[error("provider answer refused: {0}")]
    BadAnswer(String),
    /// A signed refusal: `code` is the provider's (e.g. `ACQ.TRADE_NOT_EXIST`).
    #[error("provider refused: {code} {message}")]
    Refused { code: String, message: String },
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    #[error("bad signature")]
    Signature,
    #[error("notice for another merchant")]
    Merchant,
    #[error("missing or malformed field {0}")]
    Field(&'static str),
    #[error("stale notice")]
    Stale,
    /// Signed, but its encrypted content does not open under our key.
    #[error("the notice's content does not decrypt")]
    Decrypt,
}

/// One payment provider account. Calls are logged by the adapters (method, our id, result,
/// time) without keys or personal data.
#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    /// `alipay`, `wechat`: the name in notify URLs and logs.
    fn name(&self) -> &'static str;
    fn methods(&self) -> &'static [PaymentMethod];
    async fn create(
        &self,
        method: PaymentMethod,
        trade: &NewTrade<'_>,
    ) -> Result<Created, ProviderError>;
    /// Verifies a notice as received (headers and the raw body).
    fn verify_notice(
        &self,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<Notice, NoticeError>;
    /// The body that tells the provider a notice was taken (it resends until it gets it).
    fn notice_taken(&self) -> axum::response::Response;
    /// What a refused notice is answered with (the provider resends it).
    fn notice_refused(
        &self,
        status: axum::http::StatusCode,
        _why: &str,
    ) -> axum::response::Response {
        axum::response::IntoResponse::into_response((status, "failure"))
    }
    async fn query(&self, payment_id: &str) -> Result<TradeState, ProviderError>;
    /// Closes an unpaid trade so it can no longer be paid; a trade the provider never saw is
    /// closed already.
    async fn close(&self, payment_id: &str) -> Result<(), ProviderError>;
    async fn refund(&self, r: &RefundRequest<'_>) -> Result<RefundState, ProviderError>;
    async fn query_refund(&self, r: &RefundRequest<'_>) -> Result<RefundState, ProviderError>;
}

/// The configured providers; a payment's method picks one.
#[derive(Clone, Default)]
pub struct Providers(Vec<Arc<dyn PaymentProvider>>);

impl Providers {
    pub fn new(all: Vec<Arc<dyn PaymentProvider>>) -> Self {
        Self(all)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every method some provider takes, in the order configured.
    pub fn methods(&self) -> Vec<PaymentMethod> {
        self.0
            .iter()
            .flat_map(|p| p.methods().iter().copied())
            .collect()
    }

    pub fn for_method(&self, m: PaymentMethod) -> Option<&Arc<dyn PaymentProvider>> {
        self.0.iter().find(|p| p.methods().contains(&m))
    }

    /// The provider of a stored payment's method; None for a method no provider now takes.
    pub fn for_stored(&self, method: &str) -> Option<&Arc<dyn PaymentProvider>> {
        self.for_method(stored_method(method))
    }

    pub fn named(&self, name: &str) -> Option<&Arc<dyn PaymentProvider>> {
        self.0.iter().find(|p| p.name() == name)
    }
}

/// A payment method as stored in `payments.method`.
pub fn method_str(m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::AlipayQr => "alipay_qr",
        PaymentMethod::AlipayPage => "alipay_page",
        PaymentMethod::WechatNative => "wechat_native",
    }
}

/// A stored payment's method. Rows from before the providers (`online`, the sandbox's) were
/// paid in the sandbox, which is now a local Alipay.
pub fn stored_method(s: &str) -> PaymentMethod {
    parse_method(s).unwrap_or(PaymentMethod::AlipayQr)
}

pub fn parse_method(s: &str) -> Option<PaymentMethod> {
    [
        PaymentMethod::AlipayQr,
        PaymentMethod::AlipayPage,
        PaymentMethod::WechatNative,
    ]
    .into_iter()
    .find(|m| method_str(*m) == s)
}

/// Sends a notice to `url` until it is acknowledged with `success` (bounded retries, backoff).
pub async fn deliver(client: reqwest::Client, url: String, params: Params, attempts: u32) -> bool {
    let mut delay = std::time::Duration::from_millis(200);
    for _ in 0..attempts {
        if let Ok(r) = client.post(&url).form(&params).send().await {
            if r.status().is_success()
                && r.text()
                    .await
                    .map(|t| t.trim() == "success")
                    .unwrap_or(false)
            {
                return true;
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(std::time::Duration::from_secs(60));
    }
    tracing::warn!(url, "payment notice not acknowledged");
    false
}
