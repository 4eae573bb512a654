//! The review console (a separate bundle, `admin.html`): login, review queue, search, approve and
//! reject. Personal data arrives masked from the server.

pub mod app;
pub mod dashboard;
pub mod discrepancies;
pub mod orders;
pub mod queue;
pub mod refunds;
pub mod revocations;

use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;

/// A call to the admin API: the session cookie goes along (same origin); changes carry the CSRF
/// token from the login.
pub async fn call<T: DeserializeOwned>(
    method: &str,
    path: &str,
    csrf: Option<&str>,
    body: Option<serde_json::Value>,
) -> Result<T, String> {
    use gloo_net::http::Request;
    let url = format!("/api/v1/admin{path}");
    let mut req = if method == "GET" {
        Request::get(&url)
    } else {
        Request::post(&url)
    };
    if let Some(c) = csrf {
        req = req.header("x-csrf-token", c);
    }
    let resp = match body {
        Some(b) => req.json(&b).map_err(|e| e.to_string())?.send().await,
        None => req.send().await,
    }
    .map_err(|e| e.to_string())?;
    if resp.ok() {
        resp.json().await.map_err(|e| e.to_string())
    } else {
        let e: api::ApiError = resp.json().await.map_err(|e| e.to_string())?;
        Err(e.code)
    }
}

/// A change that answers 204 (no body): Ok, or the API's error code.
pub async fn call_empty(path: &str, csrf: &str) -> Result<(), String> {
    let resp = gloo_net::http::Request::post(&format!("/api/v1/admin{path}"))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    answered(resp).await
}

/// A change with a JSON body that answers 204: Ok, or the API's error code.
pub async fn call_post(path: &str, csrf: &str, body: serde_json::Value) -> Result<(), String> {
    let resp = gloo_net::http::Request::post(&format!("/api/v1/admin{path}"))
        .header("x-csrf-token", csrf)
        .json(&body)
        .map_err(|e| e.to_string())?
        .send()
        .await
        .map_err(|e| e.to_string())?;
    answered(resp).await
}

async fn answered(resp: gloo_net::http::Response) -> Result<(), String> {
    if resp.ok() {
        return Ok(());
    }
    let e: api::ApiError = resp.json().await.map_err(|e| e.to_string())?;
    Err(e.code)
}

/// The value of the input or select an event came from.
pub fn value(e: &yew::Event) -> String {
    e.target()
        .and_then(|t| {
            t.clone()
                .dyn_into::<web_sys::HtmlInputElement>()
                .map(|i| i.value())
                .ok()
                .or_else(|| {
                    t.dyn_into::<web_sys::HtmlSelectElement>()
                        .ok()
                        .map(|s| s.value())
                })
        })
        .unwrap_or_default()
}

pub use api::AdminOrder;

/// Money the orders could not take as it came (a wrong amount), for a person to settle.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct Discrepancy {
    pub payment_id: String,
    pub order_number: String,
    pub kind: String,
    pub amount_fen: i64,
    pub expected_fen: i64,
    pub trade_no: String,
    pub at: i64,
}
