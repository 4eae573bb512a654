//! Wire types of the renewal API (`/api/v1`) and the validators both sides run.
//! Money is integer fen everywhere; times are Unix seconds.

pub mod validate;

use serde::{Deserialize, Serialize};

/// Formats fen as yuan with two decimals: 20000 → "200.00".
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let f = fen.unsigned_abs();
    format!("{sign}{}.{:02}", f / 100, f % 100)
}

/// Parses "200.00" / "200" / "200.5" into fen; refuses more than two decimals.
pub fn parse_yuan(s: &str) -> Option<i64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let w: i64 = whole.parse().ok()?;
    let f: i64 = format!("{frac:0<2}").parse().ok()?;
    w.checked_mul(100)?.checked_add(f)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceOption {
    pub months: u32,
    pub fee_fen: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceList {
    /// Unit price per year, as the cashier shows it (W9).
    pub unit_fen_per_year: i64,
    pub options: Vec<PriceOption>,
    /// Online renewal opens this many days before the certificate expires.
    pub renewal_window_days: i64,
    /// What the cashier offers: exactly the methods of the providers this server is set up
    /// with (none: applications are taken but cannot be paid yet).
    #[serde(default)]
    pub payment_methods: Vec<PaymentMethod>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    pub version: String,
    pub title: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub id: String,
    /// Unpredictable (an HMAC of the id under a server key), base64url; signed inside the application.
    pub nonce: String,
    pub expires_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IdType {
    #[default]
    ResidentId,
    Passport,
    HkMacaoPermit,
    TaiwanPermit,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Operator {
    pub id_type: IdType,
    pub id_number: String,
    pub name: String,
    pub mobile: String,
    pub email: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Recipient {
    pub name: String,
    pub mobile: String,
    pub address: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ApplicationForm {
    #[serde(deserialize_with = "whole_number")]
    pub period_months: u32,
    pub operator: Operator,
    pub recipient: Recipient,
}

/// JSON has one kind of number: `25.0` is the integer 25 (JSON Schema counts it as one), so an
/// integer field reads a whole number however it is written and refuses `25.5` or one out of
/// range.
fn whole_number<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    struct Whole;
    impl serde::de::Visitor<'_> for Whole {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom("a negative number"))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
            // Exact below 2^53; beyond it no field here has a meaning anyway.
            if v.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&v) {
                Ok(v as u64)
            } else {
                Err(E::custom("not a whole number"))
            }
        }
    }
    let n = d.deserialize_any(Whole)?;
    T::try_from(n).map_err(|_| serde::de::Error::custom("number out of range"))
}

/// Field-level refusals of a form, keyed by a dotted path such as `operator.id_number`.
pub type FieldErrors = Vec<(String, validate::Invalid)>;

impl ApplicationForm {
    /// Validates and normalises every field; `today` is yyyymmdd for the birth-date check.
    pub fn validate(&self, today: u32) -> Result<ApplicationForm, FieldErrors> {
        use validate::*;
        let mut errors = FieldErrors::new();
        let mut out = self.clone();
        let mut check = |field: &str, r: Result<String, Invalid>, slot: &mut String| match r {
            Ok(v) => *slot = v,
            Err(e) => errors.push((field.to_string(), e)),
        };
        let o = &self.operator;
        let id = match o.id_type {
            IdType::ResidentId => resident_id(&o.id_number, today),
            _ => text(&o.id_number, 32),
        };
        check("operator.id_number", id, &mut out.operator.id_number);
        check("operator.name", text(&o.name, 50), &mut out.operator.name);
        check(
            "operator.mobile",
            mobile(&o.mobile),
            &mut out.operator.mobile,
        );
        check("operator.email", email(&o.email), &mut out.operator.email);
        let r = &self.recipient;
        check("recipient.name", text(&r.name, 50), &mut out.recipient.name);
        check(
            "recipient.mobile",
            mobile(&r.mobile),
            &mut out.recipient.mobile,
        );
        check(
            "recipient.address",
            text(&r.address, 200),
            &mut out.recipient.address,
        );
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

/// The bytes the token signs to apply (proof of possession): a fixed label, the challenge, the
/// certificate's SHA-256 and the normalised form as JSON (fields in declaration order).
pub fn canonical_application(
    form: &ApplicationForm,
    nonce: &str,
    certificate_der: &[u8],
) -> Vec<u8> {
    use sha2::Digest;
    let cert_hash: String = sha2::Sha256::digest(certificate_der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let form = serde_json::to_string(form).unwrap_or_default();
    format!("certrenew-application-v1\n{nonce}\n{cert_hash}\n{form}").into_bytes()
}

/// What the token signs to see the details of its previous renewal (shown only to the key holder).
pub fn prefill_message(nonce: &str, certificate_der: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let cert_hash: String = sha2::Sha256::digest(certificate_der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("certrenew-prefill-v1\n{nonce}\n{cert_hash}").into_bytes()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefillRequest {
    pub challenge_id: String,
    /// DER in base64.
    pub certificate: String,
    /// Signature over [`prefill_message`], base64.
    pub signature: String,
}

/// The operator, recipient and invoice details of this subject's last renewal, if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Prefill {
    pub form: Option<ApplicationForm>,
    pub invoice_title: Option<String>,
    pub taxpayer_id: Option<String>,
}

/// What the new certificate's key signs to confirm it was installed on the token.
pub fn install_proof_message(order_number: &str, serial_hex: &str) -> Vec<u8> {
    format!("certrenew-installed-v1\n{order_number}\n{serial_hex}").into_bytes()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationRequest {
    pub challenge_id: String,
    /// The token's current certificate, DER in base64.
    pub certificate: String,
    pub form: ApplicationForm,
    /// Signature over [`canonical_application`], base64: ECDSA DER or PKCS#1 v1.5, SHA-256.
    pub signature: String,
}

/// Order states (DESIGN "Order states"); transitions are checked by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    AwaitingPayment,
    Paid,
    UnderReview,
    Approved,
    Issued,
    Installed,
    Cancelled,
    PaymentExpired,
    Rejected,
    Refunding,
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 11] = [
        Self::AwaitingPayment,
        Self::Paid,
        Self::UnderReview,
        Self::Approved,
        Self::Issued,
        Self::Installed,
        Self::Cancelled,
        Self::PaymentExpired,
        Self::Rejected,
        Self::Refunding,
        Self::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "awaiting_payment",
            Self::Paid => "paid",
            Self::UnderReview => "under_review",
            Self::Approved => "approved",
            Self::Issued => "issued",
            Self::Installed => "installed",
            Self::Cancelled => "cancelled",
            Self::PaymentExpired => "payment_expired",
            Self::Rejected => "rejected",
            Self::Refunding => "refunding",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The order's one state machine: where `event` leads from here, or why it cannot happen.
    /// Code that moves an order names the event; the status it reaches is decided only here.
    pub fn on(self, event: Event) -> Result<OrderStatus, Illegal> {
        use Event as E;
        use OrderStatus::*;
        let next = match (self, event) {
            (AwaitingPayment, E::Pay) => Paid,
            (AwaitingPayment, E::Cancel) => Cancelled,
            (AwaitingPayment, E::Expire) => PaymentExpired,
            (Paid, E::Queue) => UnderReview,
            (UnderReview, E::Approve | E::AutoApprove) => Approved,
            (UnderReview, E::Reject) => Rejected,
            // Cancelling once paid, and a revocation (stolen token, compromised key) even after
            // approval or issuance, stop the renewal and return the money.
            (Paid | UnderReview, E::Cancel) => Refunding,
            (Paid | UnderReview | Approved | Issued | Rejected, E::Refund) => Refunding,
            (Approved, E::Issue) => Issued,
            (Issued, E::Install) => Installed,
            (Refunding, E::Refunded) => Refunded,
            (from, event) => return Err(Illegal { from, event }),
        };
        Ok(next)
    }

    /// Whether some event leads from here to `next` (`certrenew check` reads the audit trail
    /// with it).
    pub fn can_become(self, next: OrderStatus) -> bool {
        Event::ALL.into_iter().any(|e| self.on(e) == Ok(next))
    }

    /// Step of the five-step progress bar (W7): 1 apply, 2 pay, 3 review, 4 install, 5 done.
    pub fn progress_step(self) -> u8 {
        use OrderStatus::*;
        match self {
            AwaitingPayment => 2,
            Paid | UnderReview => 3,
            Approved | Issued => 4,
            Installed => 5,
            Cancelled | PaymentExpired | Rejected | Refunding | Refunded => 0,
        }
    }

    /// Whether the order still blocks another application for the same certificate.
    pub fn is_open(self) -> bool {
        use OrderStatus::*;
        matches!(
            self,
            AwaitingPayment | Paid | UnderReview | Approved | Issued
        )
    }
}

/// What happens to an order (see [`OrderStatus::on`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The provider confirmed the payment.
    Pay,
    /// A paid order enters the review queue.
    Queue,
    Approve,
    /// Approved by the server's policy, not by a person.
    AutoApprove,
    Reject,
    /// The applicant withdraws: closed before payment, refunded after.
    Cancel,
    /// The payment time limit passed.
    Expire,
    /// The CA issued the new certificate.
    Issue,
    /// The token proved it holds the new certificate's key.
    Install,
    /// The money goes back (rejection, revocation).
    Refund,
    /// The provider confirmed the refund.
    Refunded,
}

impl Event {
    pub const ALL: [Event; 11] = [
        Self::Pay,
        Self::Queue,
        Self::Approve,
        Self::AutoApprove,
        Self::Reject,
        Self::Cancel,
        Self::Expire,
        Self::Issue,
        Self::Install,
        Self::Refund,
        Self::Refunded,
    ];
}

/// An event that cannot happen to an order in its status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{event:?} cannot happen to an order that is {}", .from.as_str())]
pub struct Illegal {
    pub from: OrderStatus,
    pub event: Event,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    /// Business order number, `01` + yyyymmdd + seven digits.
    pub number: String,
    pub subject: String,
    pub certificate_serial: String,
    pub applied_at: i64,
    pub status: OrderStatus,
    pub progress_step: u8,
    pub period_months: u32,
    /// Fee excluding delivery.
    pub fee_fen: i64,
    pub old_not_after: i64,
    pub new_not_after: i64,
    pub operator_name: String,
    pub remarks: String,
    pub payment: Option<PaymentView>,
    pub invoice: Option<InvoiceView>,
    /// The PIV algorithm byte of the token's management key when the CA holds that key (the
    /// browser then relays the token's challenge to the server instead of knowing the key).
    #[serde(default)]
    pub management_key_algorithm: Option<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Alipay QR code (`alipay.trade.precreate`): scanned with the phone, for kiosks and desks.
    AlipayQr,
    /// Alipay's own payment page (`alipay.trade.page.pay`), opened in the browser.
    AlipayPage,
    /// WeChat Pay Native (`code_url` QR).
    WechatNative,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequest {
    pub method: PaymentMethod,
    pub invoice_title: String,
    pub taxpayer_id: String,
}

/// An order as the console lists it: personal data masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminOrder {
    pub number: String,
    pub subject: String,
    pub status: OrderStatus,
    pub fee_fen: i64,
    pub applied_at: i64,
    pub operator_name: String,
    pub operator_id: String,
    pub operator_mobile: String,
    /// Set when the certificate being renewed was revoked: such an order cannot be approved.
    #[serde(default)]
    pub certificate_revoked_at: Option<i64>,
}

/// One transition of an order, as its audit trail holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineStep {
    pub at: i64,
    pub actor: String,
    pub from: String,
    pub to: String,
    pub note: String,
}

/// A payment of an order, with the provider's trade number once money was seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub id: String,
    pub method: PaymentMethod,
    pub amount_fen: i64,
    pub status: String,
    pub trade_no: String,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    pub refunded_at: Option<i64>,
}

/// A certificate an order is about: the one renewed, and the one issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRecord {
    pub serial: String,
    /// `renewed` (the old one) or `issued` (the new one).
    pub role: String,
    pub subject: String,
    pub not_after: i64,
    pub revoked_at: Option<i64>,
    pub revocation_reason: Option<i64>,
}

/// A certificate's page in the console: its record, what it is, where it came from and went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateDetail {
    pub certificate: CertificateRecord,
    pub issuer: String,
    pub not_before: i64,
    /// `p256` or `rsa2048`.
    pub key: String,
    /// SHA-256 of the DER, upper-case hex.
    pub fingerprint: String,
    /// The console account that revoked it.
    pub revoked_by: Option<String>,
    /// The serial of the certificate this one renewed, and of those that renewed it.
    pub renews: Option<String>,
    pub renewed_by: Vec<String>,
    /// The orders that renewed it, and the one that issued it (masked).
    pub orders: Vec<AdminOrder>,
    pub pem: String,
}

/// A notice sent (or queued) about an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeRecord {
    pub kind: String,
    /// Masked.
    pub recipient: String,
    pub subject: String,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// An order's page in the console.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDetail {
    pub order: AdminOrder,
    /// The application form unmasked: reviewers only, and each view is audited.
    pub form: Option<ApplicationForm>,
    pub timeline: Vec<TimelineStep>,
    pub payments: Vec<PaymentRecord>,
    pub refunds: Vec<RefundView>,
    pub certificates: Vec<CertificateRecord>,
    pub notices: Vec<NoticeRecord>,
}

/// A count or a sum on one day or month (`2026-12-02`, `2026-12`, China Standard Time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatedValue {
    pub date: String,
    pub value: i64,
}

/// The console's dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    /// Renewals installed per day, the last 30 days (days without any included, as 0).
    pub renewals_per_day: Vec<DatedValue>,
    /// Money kept (paid, not refunded), in fen, per day for the last 30 days and per month for
    /// the last 12.
    pub revenue_per_day: Vec<DatedValue>,
    pub revenue_per_month: Vec<DatedValue>,
    /// Orders by state (`awaiting_payment`: n, …).
    pub orders_by_state: Vec<(String, i64)>,
    /// Certificates neither revoked nor renewed that expire within 30, 60 and 90 days.
    pub expiring: [i64; 3],
}

/// A refund as the review console lists it: money owed back, on its way through the provider
/// (`pending`: asked, retried with backoff) or left for a person (`failed`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundView {
    /// Our idempotency key at the provider (`out_request_no` / `out_refund_no`).
    pub id: String,
    pub payment_id: String,
    pub order_number: String,
    pub method: PaymentMethod,
    /// The provider's trade number, once the money was seen.
    pub trade_no: String,
    pub amount_fen: i64,
    pub reason: String,
    pub status: String,
    pub attempts: i64,
    /// What the provider (or the way to it) last said.
    pub last_error: String,
    pub created_at: i64,
    pub next_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentView {
    pub id: String,
    pub method: PaymentMethod,
    pub amount_fen: i64,
    pub paid: bool,
    /// The page to pay on (the provider's cashier, or the QR code's own address).
    pub cashier_url: String,
    /// What is shown as a QR code for paying from a phone; empty for a page-only method.
    pub qr_payload: String,
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRequest {
    /// PKCS#10 request, DER in base64, signed by the token.
    pub csr: String,
}

/// Install confirmation: proof that the token holds the new certificate's key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmRequest {
    /// Signature by the installed certificate's key over `install_proof_message`, base64.
    pub signature: String,
}

/// The token's management-key witness (encrypted), relayed to the CA which holds the key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementWitness {
    /// base64
    pub witness: String,
}

/// The CA's answer to a witness: decrypted, and a challenge for the token (both base64).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementAnswer {
    pub witness: String,
    pub challenge: String,
}

/// The token's answer to the CA's challenge, for the CA to check (mutual authentication).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementCheck {
    pub challenge: String,
    pub response: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementChecked {
    pub ok: bool,
}

/// Demo mode: the management key the browser set on its demo token, for the CA to hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoManagementKey {
    /// The demo token's certificate (DER, base64): the key is filed under its serial.
    pub certificate: String,
    /// PIV algorithm byte.
    #[serde(deserialize_with = "whole_number")]
    pub algorithm: u8,
    /// base64
    pub key: String,
}

/// Demo mode: a certificate for a browser demo token's key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoCertificateRequest {
    /// SubjectPublicKeyInfo of the demo token's key, DER in base64.
    pub public_key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueResponse {
    /// The new certificate, DER in base64.
    pub certificate: String,
    pub not_after: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceView {
    /// 20 digits: year (2), province (2), channel (1), sequence (15).
    pub number: String,
    pub issued_at: i64,
    pub buyer_title: String,
    pub buyer_taxpayer_id: String,
    pub item: String,
    pub amount_fen: i64,
    pub tax_fen: i64,
    pub total_fen: i64,
}

/// Every error the API returns: a stable code the UI translates, an English message for
/// developers, and the offending field when there is one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: FieldErrors,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_integer_field_reads_a_whole_number_however_written() {
        let form = |months: &str| {
            let json = format!(
                r#"{{"period_months":{months},"operator":{{"id_type":"passport","id_number":"E1","name":"a","mobile":"13800000000","email":"a@b.cn"}},"recipient":{{"name":"a","mobile":"13800000000","address":"x"}}}}"#
            );
            serde_json::from_str::<ApplicationForm>(&json).map(|f| f.period_months)
        };
        assert_eq!(form("12").unwrap(), 12);
        assert_eq!(form("12.0").unwrap(), 12);
        assert_eq!(form("1.2e1").unwrap(), 12);
        for bad in ["12.5", "-1", "4294967296", "1e300", "\"12\"", "null"] {
            assert!(form(bad).is_err(), "{bad}");
        }
        let key = |alg: &str| {
            serde_json::from_str::<DemoManagementKey>(&format!(
                r#"{{"certificate":"","algorithm":{alg},"key":""}}"#
            ))
            .map(|k| k.algorithm)
        };
        assert_eq!(key("12.0").unwrap(), 12);
        assert!(key("256").is_err());
    }

    #[test]
    fn money() {
        assert_eq!(yuan(20000), "200.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(-150), "-1.50");
        assert_eq!(parse_yuan("200.00"), Some(20000));
        assert_eq!(parse_yuan("200.5"), Some(20050));
        assert_eq!(parse_yuan("200"), Some(20000));
        for bad in ["", ".5", "1.234", "-1", "1e3", "abc"] {
            assert_eq!(parse_yuan(bad), None, "{bad}");
        }
    }

    #[test]
    fn transitions() {
        use OrderStatus::*;
        assert!(AwaitingPayment.can_become(Paid));
        assert!(
            !AwaitingPayment.can_become(Approved),
            "no approval before payment"
        );
        assert!(!Approved.can_become(Installed), "no install before issue");
        assert!(!Installed.can_become(Refunding));
        assert!(Approved.can_become(Refunding) && Issued.can_become(Refunding));
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
            assert!(!s.can_become(s), "{s:?} to itself is not a transition");
        }
        // Events, not target statuses: cancelling is a refund once money came.
        assert_eq!(AwaitingPayment.on(Event::Cancel), Ok(Cancelled));
        assert_eq!(UnderReview.on(Event::Cancel), Ok(Refunding));
        assert_eq!(
            Installed.on(Event::Refund),
            Err(Illegal {
                from: Installed,
                event: Event::Refund
            })
        );
        // Terminal statuses take no event at all.
        for s in [Installed, Cancelled, PaymentExpired, Refunded] {
            assert!(Event::ALL.iter().all(|e| s.on(*e).is_err()), "{s:?}");
        }
    }

    #[test]
    fn form_validation_reports_every_field() {
        let form = ApplicationForm {
            period_months: 12,
            ..Default::default()
        };
        let errs = form.validate(20261124).unwrap_err();
        assert_eq!(errs.len(), 7);
        let good = ApplicationForm {
            period_months: 12,
            operator: Operator {
                id_type: IdType::ResidentId,
                id_number: "11010519491231002x".into(),
                name: "张三".into(),
                mobile: "+86 13800138000".into(),
                email: "ops@supplier.cn".into(),
            },
            recipient: Recipient {
                name: "李四".into(),
                mobile: "13900139000".into(),
                address: "深圳市福田区某路1号".into(),
            },
        };
        let v = good.validate(20261124).unwrap();
        assert_eq!(v.operator.id_number, "11010519491231002X");
        assert_eq!(v.operator.mobile, "13800138000");
    }

    #[test]
    fn canonical_application_binds_everything() {
        let f = ApplicationForm::default();
        let a = canonical_application(&f, "n1", b"cert");
        assert_ne!(a, canonical_application(&f, "n2", b"cert"));
        assert_ne!(a, canonical_application(&f, "n1", b"cert2"));
        let g = ApplicationForm {
            period_months: 24,
            ..Default::default()
        };
        assert_ne!(a, canonical_application(&g, "n1", b"cert"));
    }
}
