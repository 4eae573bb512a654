//! certrenew web app: renew the certificate on a USB token from the browser (W1–W13).
//! The flow state and the translations also build natively, so their tests run with the rest.

pub mod flow;
pub mod i18n;

#[cfg(target_arch = "wasm32")]
pub mod api_client;
#[cfg(target_arch = "wasm32")]
pub mod components;
#[cfg(target_arch = "wasm32")]
pub mod ctx;
#[cfg(target_arch = "wasm32")]
pub mod token_access;

#[cfg(target_arch = "wasm32")]
fn main() {
    yew::Renderer::<components::app::App>::new().render();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the web app runs in the browser: build it with scripts/build-web");
}
