//! certrenew web app: renew the certificate on a USB token from the browser (W1–W13), and the
//! review console (a separate bundle, loaded only by reviewers).
//! The flow state and the translations also build natively, so their tests run with the rest.

pub mod flow;
pub mod i18n;
/// The console's messages (kept out of the citizen's bundle: only the console uses them).
pub mod i18n_admin;
pub mod ui_error;

#[cfg(target_arch = "wasm32")]
pub mod admin;
#[cfg(target_arch = "wasm32")]
pub mod api_client;
#[cfg(target_arch = "wasm32")]
pub mod components;
#[cfg(target_arch = "wasm32")]
pub mod ctx;
#[cfg(target_arch = "wasm32")]
pub mod kiosk;
#[cfg(target_arch = "wasm32")]
pub mod page;
#[cfg(target_arch = "wasm32")]
pub mod token_access;
