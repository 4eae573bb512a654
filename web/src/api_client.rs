//! The HTTP client of the renewal API (same origin, `/api/v1`).

use api::ApiError;
use base64::Engine;
use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What went wrong talking to the server: its own error, or no answer at all.
#[derive(Clone, Debug, PartialEq)]
pub enum CallError {
    Api(ApiError),
    Network(String),
}

async fn parse<T: DeserializeOwned>(r: Response) -> Result<T, CallError> {
    if r.ok() {
        r.json()
            .await
            .map_err(|e| CallError::Network(e.to_string()))
    } else {
        match r.json::<ApiError>().await {
            Ok(e) => Err(CallError::Api(e)),
            Err(_) => Err(CallError::Network(format!("HTTP {}", r.status()))),
        }
    }
}

/// Where the API is: this origin, unless the page names a server (the kiosk app is served from
/// `isolated-app://` and is built with `<meta name="certrenew-api" content="https://…">`).
fn api_url(path: &str) -> String {
    thread_local! {
        static BASE: String = crate::ctx::page_meta("certrenew-api").unwrap_or_default();
    }
    BASE.with(|b| format!("{b}/api/v1{path}"))
}

fn net(e: gloo_net::Error) -> CallError {
    CallError::Network(e.to_string())
}

pub async fn get<T: DeserializeOwned>(
    path: &str,
    order_token: Option<&str>,
) -> Result<T, CallError> {
    let mut req = Request::get(&api_url(path));
    if let Some(t) = order_token {
        req = req.header("x-order-token", t);
    }
    parse(req.send().await.map_err(net)?).await
}

pub async fn post<B: serde::Serialize, T: DeserializeOwned>(
    path: &str,
    order_token: Option<&str>,
    body: &B,
) -> Result<T, CallError> {
    let mut req = Request::post(&api_url(path));
    if let Some(t) = order_token {
        req = req.header("x-order-token", t);
    }
    parse(req.json(body).map_err(net)?.send().await.map_err(net)?).await
}

/// POST /applications: the order and the token that gives access to it.
pub async fn apply(req: &api::ApplicationRequest) -> Result<(api::OrderView, String), CallError> {
    let r = Request::post(&api_url("/applications"))
        .json(req)
        .map_err(net)?
        .send()
        .await
        .map_err(net)?;
    let token = r.headers().get("x-order-token").unwrap_or_default();
    let order = parse(r).await?;
    Ok((order, token))
}

pub fn b64_encode(b: &[u8]) -> String {
    B64.encode(b)
}

pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}
