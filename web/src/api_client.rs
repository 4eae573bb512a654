//! The HTTP client of the renewal API (same origin, `/api/v1`).

pub use renewal::CallError;
use renewal::{decode, json, Reply};
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The browser's fetch, used directly: the whole client is a few lines, and an HTTP library
/// would add kilobytes to every citizen's download.
async fn send(
    method: &str,
    path: &str,
    order_token: Option<&str>,
    body: Option<String>,
) -> Result<web_sys::Response, CallError> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(js)?;
    if let Some(t) = order_token {
        headers.set("x-order-token", t).map_err(js)?;
    }
    if let Some(b) = body {
        headers
            .set("content-type", "application/json")
            .map_err(js)?;
        init.set_body(&JsValue::from_str(&b));
    }
    init.set_headers(&headers);
    let window = web_sys::window().ok_or_else(|| CallError::Network("no window".into()))?;
    let response = JsFuture::from(window.fetch_with_str_and_init(&api_url(path), &init))
        .await
        .map_err(js)?;
    response.dyn_into().map_err(js)
}

fn js(e: JsValue) -> CallError {
    CallError::Network(
        e.dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .unwrap_or_else(|| "the request failed".into()),
    )
}

/// The answer's status, body and order token; not generic, so it exists once in the download.
async fn read(r: web_sys::Response) -> Result<Reply, CallError> {
    let text = JsFuture::from(r.text().map_err(js)?)
        .await
        .map_err(js)?
        .as_string()
        .unwrap_or_default();
    Ok(Reply {
        ok: r.ok(),
        status: r.status(),
        body: text,
        order_token: r.headers().get("x-order-token").ok().flatten(),
    })
}

/// Sends and reads; the only generic step left is the JSON decoding.
async fn call(
    method: &str,
    path: &str,
    order_token: Option<&str>,
    body: Option<String>,
) -> Result<Reply, CallError> {
    read(send(method, path, order_token, body).await?).await
}

/// The renewal protocol's view of this client (`renewal::install` and the rest run over it).
pub struct Fetch;

impl renewal::RenewalApi for Fetch {
    async fn post_json(
        &self,
        path: &str,
        order_token: Option<&str>,
        body: String,
    ) -> Result<Reply, CallError> {
        call("POST", path, order_token, Some(body)).await
    }

    fn b64_encode(&self, bytes: &[u8]) -> String {
        b64_encode(bytes)
    }

    fn b64_decode(&self, text: &str) -> Option<Vec<u8>> {
        b64_decode(text)
    }
}

/// Where the API is: this origin, unless the page names a server (the kiosk app is served from
/// `isolated-app://` and is built with `<meta name="certrenew-api" content="https://…">`).
/// The API's base URL (`…/api/v1`).
pub fn api_base() -> String {
    api_url("")
}

fn api_url(path: &str) -> String {
    thread_local! {
        static BASE: String = crate::page::page_meta("certrenew-api").unwrap_or_default();
    }
    BASE.with(|b| format!("{b}/api/v1{path}"))
}

pub async fn get<T: DeserializeOwned>(
    path: &str,
    order_token: Option<&str>,
) -> Result<T, CallError> {
    decode(&call("GET", path, order_token, None).await?)
}

pub async fn post<B: serde::Serialize, T: DeserializeOwned>(
    path: &str,
    order_token: Option<&str>,
    body: &B,
) -> Result<T, CallError> {
    decode(&call("POST", path, order_token, Some(json(body)?)).await?)
}

/// Base64 (RFC 4648 §4, padded) through the browser's own `btoa`/`atob`: a Rust engine would add
/// about 6 KB to every citizen's download for a few kilobytes encoded per renewal. Both work on
/// "binary strings", one character per byte (U+0000–U+00FF).
pub fn b64_encode(b: &[u8]) -> String {
    let binary: String = b.iter().map(|&x| char::from(x)).collect();
    web_sys::window()
        .and_then(|w| w.btoa(&binary).ok())
        .unwrap_or_default()
}

/// The inverse of [`b64_encode`]; `None` for anything `atob` refuses.
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let binary = web_sys::window()?.atob(s).ok()?;
    binary.chars().map(|c| u8::try_from(c).ok()).collect()
}
