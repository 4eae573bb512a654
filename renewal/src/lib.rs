//! The citizen's side of the renewal protocol — prefill, apply, install — written once, over two
//! seams: [`Token`] (the PIV application of the user's token) and [`RenewalApi`] (the server).
//! The web app runs it over WebUSB and `fetch`; the server's tests and the load generator over the
//! virtual token and reqwest. Nothing here knows how bytes reach either side.

// The traits are used with concrete types (the futures are Send where those are), never as
// `dyn` or from generic spawners, so `Send` bounds are not written into them.
#![allow(async_fn_in_trait)]

use api::{ApiError, OrderView};
use ccid::cert::CertSummary;
use ccid::keys::ManagementKey;
use ccid::piv::{Algorithm, ManagementResponder, Pin, Piv, PivError, Slot};
use ccid::{Card, CardError, TransportError};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// What went wrong talking to the server: its own error, or no usable answer at all.
#[derive(Clone, Debug, PartialEq)]
pub enum CallError {
    Api(ApiError),
    Network(String),
}

/// What went wrong with the token session itself.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenError {
    Piv(PivError),
    /// Another operation holds the token (a second click while one runs).
    Busy,
}

impl From<PivError> for TokenError {
    fn from(e: PivError) -> Self {
        TokenError::Piv(e)
    }
}

/// The token (or its reader) went away: the next session must find it again.
pub fn removed(e: &PivError) -> bool {
    matches!(
        e,
        PivError::Card(
            CardError::Removed
                | CardError::NoCard
                | CardError::Transport(TransportError::Disconnected)
        )
    )
}

/// Why a step of the renewal stopped. Each variant is something the user is told differently.
#[derive(Clone, Debug, PartialEq)]
pub enum RenewalError {
    Token(TokenError),
    Server(ApiError),
    Network(String),
    /// The certificate on the token cannot be renewed here (unreadable, or an unsupported key).
    Certificate,
    /// What the token gave back after the write is not the certificate written.
    ReadBack,
}

impl From<CallError> for RenewalError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Api(a) => RenewalError::Server(a),
            CallError::Network(n) => RenewalError::Network(n),
        }
    }
}

impl From<TokenError> for RenewalError {
    fn from(e: TokenError) -> Self {
        RenewalError::Token(e)
    }
}

/// A token whose PIV application can be used for one operation at a time.
pub trait Token {
    type Card: Card;
    /// Runs `f` with the PIV application selected (finding the token again first if it was
    /// pulled out since the last operation).
    async fn with<T>(
        &self,
        f: impl AsyncFnOnce(&mut Piv<&mut Self::Card>) -> Result<T, PivError>,
    ) -> Result<T, TokenError>;
}

/// A card reached directly (the virtual token in tests and the load generator).
pub struct Direct<C>(std::sync::Mutex<Option<C>>);

impl<C> Direct<C> {
    pub fn new(card: C) -> Self {
        Self(std::sync::Mutex::new(Some(card)))
    }

    /// The card back (for a test to look at it or use it elsewhere).
    pub fn into_inner(self) -> Option<C> {
        self.0.into_inner().ok().flatten()
    }
}

impl<C: Card> Token for Direct<C> {
    type Card = C;
    async fn with<T>(
        &self,
        f: impl AsyncFnOnce(&mut Piv<&mut C>) -> Result<T, PivError>,
    ) -> Result<T, TokenError> {
        // Taken out for the operation: the lock is never held across an await.
        let taken = self.0.lock().ok().and_then(|mut c| c.take());
        let mut card = taken.ok_or(TokenError::Busy)?;
        let result = {
            let mut piv = Piv::new(&mut card);
            match piv.select().await {
                Ok(_) => f(&mut piv).await,
                Err(e) => Err(e),
            }
        };
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(card);
        }
        Ok(result?)
    }
}

/// An answer from the server: whether it is a success, its status, its body, and the order
/// token it handed out (`X-Order-Token`, on a new application).
pub struct Reply {
    pub ok: bool,
    pub status: u16,
    pub body: String,
    pub order_token: Option<String>,
}

/// The renewal API (`/api/v1`), typed on top of one JSON POST each client provides.
pub trait RenewalApi {
    /// POSTs `body` (JSON) to `/api/v1{path}`, with the order's token when given.
    async fn post_json(
        &self,
        path: &str,
        order_token: Option<&str>,
        body: String,
    ) -> Result<Reply, CallError>;

    /// Base64 (RFC 4648, padded). The client provides it: the browser has `btoa` for free.
    fn b64_encode(&self, bytes: &[u8]) -> String;
    fn b64_decode(&self, text: &str) -> Option<Vec<u8>>;

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        order_token: Option<&str>,
        body: &B,
    ) -> Result<T, CallError> {
        decode(&self.post_json(path, order_token, json(body)?).await?)
    }

    async fn challenge(&self) -> Result<api::Challenge, CallError> {
        self.post("/challenges", None, &()).await
    }

    /// `POST /applications`: the order, and the token that gives access to it.
    async fn apply(&self, req: &api::ApplicationRequest) -> Result<(OrderView, String), CallError> {
        let reply = self.post_json("/applications", None, json(req)?).await?;
        let order = decode(&reply)?;
        Ok((order, reply.order_token.unwrap_or_default()))
    }

    async fn prefill(&self, req: &api::PrefillRequest) -> Result<api::Prefill, CallError> {
        self.post("/prefill", None, req).await
    }

    async fn issue(
        &self,
        number: &str,
        order_token: &str,
        req: &api::IssueRequest,
    ) -> Result<api::IssueResponse, CallError> {
        let path = format!("/orders/{number}/certificate");
        self.post(&path, Some(order_token), req).await
    }

    async fn management_witness(
        &self,
        number: &str,
        order_token: &str,
        req: &api::ManagementWitness,
    ) -> Result<api::ManagementAnswer, CallError> {
        let path = format!("/orders/{number}/management-key");
        self.post(&path, Some(order_token), req).await
    }

    async fn management_check(
        &self,
        number: &str,
        order_token: &str,
        req: &api::ManagementCheck,
    ) -> Result<api::ManagementChecked, CallError> {
        let path = format!("/orders/{number}/management-key/check");
        self.post(&path, Some(order_token), req).await
    }

    async fn confirm(
        &self,
        number: &str,
        order_token: &str,
        req: &api::ConfirmRequest,
    ) -> Result<OrderView, CallError> {
        let path = format!("/orders/{number}/confirm");
        self.post(&path, Some(order_token), req).await
    }
}

pub fn json<B: Serialize>(body: &B) -> Result<String, CallError> {
    serde_json::to_string(body).map_err(|e| CallError::Network(e.to_string()))
}

/// The success body as `T`, or the server's error (a body that is neither: a network error
/// naming the status, as from a proxy's own error page).
pub fn decode<T: DeserializeOwned>(r: &Reply) -> Result<T, CallError> {
    if r.ok {
        serde_json::from_str(&r.body).map_err(|e| CallError::Network(e.to_string()))
    } else {
        match serde_json::from_str::<ApiError>(&r.body) {
            Ok(e) => Err(CallError::Api(e)),
            Err(_) => Err(CallError::Network(format!("HTTP {}", r.status))),
        }
    }
}

/// The key the token's certificate certifies.
fn certified_key(der: &[u8]) -> Result<ccid::keys::PublicKey, RenewalError> {
    let cert = ccid::cert::parse(der).map_err(|_| RenewalError::Certificate)?;
    ccid::cert::public_key(&cert).map_err(|_| RenewalError::Certificate)
}

/// Signs `message` with the certificate's key in slot 9A (PIN verified first when given).
async fn sign<K: Token>(
    token: &K,
    pin: Option<&Pin>,
    alg: Algorithm,
    message: &[u8],
) -> Result<Vec<u8>, RenewalError> {
    Ok(token
        .with(async |piv| {
            if let Some(pin) = pin {
                piv.verify_pin(pin).await?;
            }
            piv.sign_sha256(Slot::Authentication, alg, message).await
        })
        .await?)
}

/// W6: verifies the PIN on the token and proves the key holder is here, for the previous
/// renewal's details. `Ok(None)` when the server has none to give (the form starts empty);
/// token errors (wrong PIN, blocked, pulled out) are errors.
pub async fn prefill<K: Token, A: RenewalApi>(
    token: &K,
    api: &A,
    certificate: &[u8],
    pin: &Pin,
) -> Result<Option<api::Prefill>, RenewalError> {
    let key = certified_key(certificate)?;
    let challenge = api.challenge().await?;
    let message = api::prefill_message(&challenge.nonce, certificate);
    let signature = sign(token, Some(pin), key.algorithm(), &message).await?;
    let req = api::PrefillRequest {
        challenge_id: challenge.id,
        certificate: api.b64_encode(certificate),
        signature: api.b64_encode(&signature),
    };
    Ok(api.prefill(&req).await.ok())
}

/// The application for `form`, signed on the token over a fresh challenge (the PIN was verified
/// before: [`prefill`]). Not sent: [`apply`] sends it.
pub async fn application<K: Token, A: RenewalApi>(
    token: &K,
    api: &A,
    certificate: &[u8],
    form: &api::ApplicationForm,
) -> Result<api::ApplicationRequest, RenewalError> {
    let key = certified_key(certificate)?;
    let challenge = api.challenge().await?;
    let message = api::canonical_application(form, &challenge.nonce, certificate);
    let signature = sign(token, None, key.algorithm(), &message).await?;
    Ok(api::ApplicationRequest {
        challenge_id: challenge.id,
        certificate: api.b64_encode(certificate),
        form: form.clone(),
        signature: api.b64_encode(&signature),
    })
}

/// W5–W7: signs the application on the token and submits it; the order and its token.
pub async fn apply<K: Token, A: RenewalApi>(
    token: &K,
    api: &A,
    certificate: &[u8],
    form: &api::ApplicationForm,
) -> Result<(OrderView, String), RenewalError> {
    let req = application(token, api, certificate, form).await?;
    Ok(api.apply(&req).await?)
}

/// Where the install is, for a progress line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The request for the new certificate built and signed on the token.
    Csr,
    /// The CA issues the certificate.
    Issue,
    /// Written to the token, read back and checked, the proof signed.
    Write,
    /// The server checks the proof.
    Confirm,
}

/// The install's outcome: the new certificate on the token and the order, now installed.
pub struct Installed {
    pub certificate: Vec<u8>,
    pub summary: CertSummary,
    pub order: OrderView,
}

/// W10: a CSR on the token → the certificate from the CA → written, read back and checked on the
/// token → confirmed with a signature by the new certificate's key. Each step can run again
/// after a pulled token: the CA hands out the same certificate for the same key.
#[allow(clippy::too_many_arguments)]
pub async fn install<K: Token, A: RenewalApi>(
    token: &K,
    api: &A,
    order: &OrderView,
    order_token: &str,
    certificate: &[u8],
    pin: &Pin,
    now: i64,
    mut progress: impl FnMut(Step),
) -> Result<Installed, RenewalError> {
    let key = certified_key(certificate)?;
    let subject = ccid::cert::parse(certificate)
        .map_err(|_| RenewalError::Certificate)?
        .tbs_certificate()
        .subject()
        .clone();
    let n = order.number.as_str();
    progress(Step::Csr);
    let csr = token
        .with(async |piv| {
            piv.verify_pin(pin).await?;
            ccid::cert::build_csr(piv, Slot::Authentication, &subject, &key)
                .await
                .map_err(|e| match e {
                    ccid::cert::CertError::Piv(p) => p,
                    other => PivError::Malformed(other.to_string()),
                })
        })
        .await?;
    progress(Step::Issue);
    let req = api::IssueRequest {
        csr: api.b64_encode(&csr),
    };
    let issued = api.issue(n, order_token, &req).await?;
    let new_der = api
        .b64_decode(&issued.certificate)
        .ok_or_else(|| RenewalError::Network("the issued certificate is not base64".into()))?;
    let summary = ccid::cert::summarize(&new_der, now).map_err(|_| RenewalError::Certificate)?;
    progress(Step::Write);
    let proof_msg = api::install_proof_message(n, &summary.serial);
    let server_key = order
        .management_key_algorithm
        .and_then(Algorithm::from_byte);
    // The relay's own failure, kept so it is reported as the server's, not the token's.
    let mut relay_failed: Option<CallError> = None;
    let written = token
        .with(async |piv| {
            piv.verify_pin(pin).await?;
            // Who holds the management key: the CA (this side relays its challenge), the token
            // itself behind the PIN (ykman's convention), or nobody changed the factory key.
            let mut holder = match server_key {
                Some(alg) => KeyHolder::Server {
                    api,
                    number: n,
                    order_token,
                    alg,
                    failed: None,
                },
                None => KeyHolder::Local(
                    piv.pin_protected_management_key()
                        .await?
                        .unwrap_or_else(ManagementKey::default_tdes),
                ),
            };
            let authenticated = piv.authenticate_with(&mut holder).await;
            if let KeyHolder::Server { failed, .. } = &mut holder {
                relay_failed = failed.take();
            }
            authenticated?;
            piv.write_certificate(Slot::Authentication, &new_der)
                .await?;
            if piv.read_certificate(Slot::Authentication).await?.as_deref() != Some(&new_der[..]) {
                return Ok(None);
            }
            piv.verify_pin(pin).await?;
            piv.sign_sha256(Slot::Authentication, key.algorithm(), &proof_msg)
                .await
                .map(Some)
        })
        .await;
    if let Some(e) = relay_failed {
        return Err(e.into());
    }
    let proof = written?.ok_or(RenewalError::ReadBack)?;
    // No local check of `proof`: the server verifies it against the new certificate, and
    // verifying here would ship RSA and P-256 verification code to every citizen.
    progress(Step::Confirm);
    let req = api::ConfirmRequest {
        signature: api.b64_encode(&proof),
    };
    let order = api.confirm(n, order_token, &req).await?;
    Ok(Installed {
        certificate: new_der,
        summary,
        order,
    })
}

/// Whoever holds the token's management key, as one type so the authentication code exists
/// once in the download: the key here (factory default, or read from behind the PIN), or the CA's
/// server, to which the token's witness and challenge are relayed.
enum KeyHolder<'a, A> {
    Local(ManagementKey),
    Server {
        api: &'a A,
        number: &'a str,
        order_token: &'a str,
        alg: Algorithm,
        /// The relay's own failure, kept so it is reported as the server's, not the token's.
        failed: Option<CallError>,
    },
}

/// The `PivError` a failed relay hands back to the card code (the real error is in `failed`).
fn relay_failed() -> PivError {
    PivError::Malformed("the CA's answer for the management key".into())
}

impl<A: RenewalApi> ManagementResponder for KeyHolder<'_, A> {
    fn algorithm(&self) -> Algorithm {
        match self {
            KeyHolder::Local(k) => k.algorithm(),
            KeyHolder::Server { alg, .. } => *alg,
        }
    }

    async fn answer(&mut self, witness: &[u8]) -> Result<(Vec<u8>, Vec<u8>), PivError> {
        let (api, number, order_token, failed) = match self {
            KeyHolder::Local(k) => return ccid::piv::respond(k, witness),
            KeyHolder::Server {
                api,
                number,
                order_token,
                failed,
                ..
            } => (*api, *number, *order_token, failed),
        };
        let req = api::ManagementWitness {
            witness: api.b64_encode(witness),
        };
        let r = match api.management_witness(number, order_token, &req).await {
            Ok(r) => r,
            Err(e) => {
                *failed = Some(e);
                return Err(relay_failed());
            }
        };
        match (api.b64_decode(&r.witness), api.b64_decode(&r.challenge)) {
            (Some(w), Some(c)) => Ok((w, c)),
            _ => {
                *failed = Some(CallError::Network("the CA's answer is not base64".into()));
                Err(relay_failed())
            }
        }
    }

    async fn check(&mut self, challenge: &[u8], response: &[u8]) -> Result<bool, PivError> {
        let (api, number, order_token, failed) = match self {
            KeyHolder::Local(k) => return Ok(k.encrypt(challenge) == response),
            KeyHolder::Server {
                api,
                number,
                order_token,
                failed,
                ..
            } => (*api, *number, *order_token, failed),
        };
        let req = api::ManagementCheck {
            challenge: api.b64_encode(challenge),
            response: api.b64_encode(response),
        };
        match api.management_check(number, order_token, &req).await {
            Ok(r) => Ok(r.ok),
            Err(e) => {
                *failed = Some(e);
                Err(relay_failed())
            }
        }
    }
}

/// The renewal API over reqwest: the server's tests and the load generator.
#[cfg(feature = "reqwest")]
pub mod http {
    use super::{CallError, Reply};
    use base64::Engine;

    /// A client of one server's `/api/v1`.
    #[derive(Clone)]
    pub struct Client {
        pub http: reqwest::Client,
        /// The server's base URL, without `/api/v1`.
        pub url: String,
    }

    impl Client {
        pub fn new(http: reqwest::Client, url: impl Into<String>) -> Self {
            Self {
                http,
                url: url.into(),
            }
        }
    }

    impl super::RenewalApi for Client {
        async fn post_json(
            &self,
            path: &str,
            order_token: Option<&str>,
            body: String,
        ) -> Result<Reply, CallError> {
            let mut req = self
                .http
                .post(format!("{}/api/v1{path}", self.url))
                .header("content-type", "application/json")
                .body(body);
            if let Some(t) = order_token {
                req = req.header("x-order-token", t);
            }
            let r = req
                .send()
                .await
                .map_err(|e| CallError::Network(e.to_string()))?;
            let status = r.status();
            let order_token = r
                .headers()
                .get("x-order-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = r
                .text()
                .await
                .map_err(|e| CallError::Network(e.to_string()))?;
            Ok(Reply {
                ok: status.is_success(),
                status: status.as_u16(),
                body,
                order_token,
            })
        }

        fn b64_encode(&self, bytes: &[u8]) -> String {
            base64::engine::general_purpose::STANDARD.encode(bytes)
        }

        fn b64_decode(&self, text: &str) -> Option<Vec<u8>> {
            base64::engine::general_purpose::STANDARD.decode(text).ok()
        }
    }
}
