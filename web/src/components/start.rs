//! Environment check (W2) and connecting a token (W3).

use crate::ctx::{saved_order, use_app};
use crate::flow::{Action, Screen};
use crate::token_access::{TokenHandle, Transport};
use yew::prelude::*;

fn webusb_available() -> bool {
    web_sys::window()
        .map(|w| js_sys::Reflect::has(&w.navigator(), &"usb".into()).unwrap_or(false))
        .unwrap_or(false)
}

/// `navigator.smartCard`: only in the Isolated Web App (ChromeOS kiosks).
fn smart_card_available() -> bool {
    ccid::smartcard::resource_manager().is_some()
}

/// `?transport=smartcard` makes the demo token answer through the Web Smart Card API code path
/// (kiosk rehearsals and tests); WebUSB otherwise.
pub fn demo_transport() -> Transport {
    if crate::page::query_has("transport=smartcard") {
        Transport::SmartCard
    } else {
        Transport::WebUsb
    }
}

fn secure() -> bool {
    web_sys::window()
        .map(|w| w.is_secure_context())
        .unwrap_or(false)
}

/// After connecting: read the certificate, then resume a saved order if there is one.
pub async fn after_connect(ctx: crate::ctx::AppCtx, handle: TokenHandle) {
    ctx.dispatch(Action::Progress(Some("reading_token")));
    let der = handle
        .with(async |piv| piv.read_certificate(ccid::piv::Slot::Authentication).await)
        .await;
    ctx.token.set(Some(handle));
    match der {
        Ok(Some(der)) => {
            let now = (js_sys::Date::now() / 1000.0) as i64;
            match ccid::cert::summarize(&der, now) {
                Ok(s) => ctx.dispatch(Action::Certificate(Some((der, s)))),
                Err(e) => return ctx.fail(crate::ui_error::UiError::Other(e.to_string())),
            }
        }
        Ok(None) => ctx.dispatch(Action::Certificate(None)),
        Err(e) => return ctx.fail(e),
    }
    ctx.dispatch(Action::Progress(None));
    if let Some((number, token)) = saved_order::load() {
        if let Ok(order) =
            crate::api_client::get::<api::OrderView>(&format!("/orders/{number}"), Some(&token))
                .await
        {
            let open = order.status.is_open();
            ctx.dispatch(Action::Order {
                order,
                token: Some(token),
            });
            if open {
                return;
            }
        }
        saved_order::clear();
    }
    ctx.dispatch(Action::Go(Screen::Token));
}

#[component]
pub fn Start() -> Html {
    let ctx = use_app();
    let (secure, webusb, smart_card) = (secure(), webusb_available(), smart_card_available());
    let connect_card = {
        let ctx = ctx.clone();
        Callback::from(move |_| {
            let ctx = ctx.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match TokenHandle::smart_card().await {
                    Ok(h) => after_connect(ctx, h).await,
                    Err(e) => ctx.fail(crate::token_access::TokenError::Piv(e.into())),
                }
            });
        })
    };
    let connect_usb = {
        let ctx = ctx.clone();
        Callback::from(move |_| {
            let ctx = ctx.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match TokenHandle::usb().await {
                    Ok(h) => after_connect(ctx, h).await,
                    Err(ccid::TransportError::ProtectedClass) => ctx.fail("err_protected"),
                    Err(ccid::TransportError::Busy(_)) => ctx.fail("err_busy"),
                    Err(ccid::TransportError::Disconnected) => ctx.fail("err_no_device"),
                    Err(e) => ctx.fail(crate::ui_error::UiError::Other(e.to_string())),
                }
            });
        })
    };
    let use_demo = {
        let ctx = ctx.clone();
        Callback::from(move |_| {
            let ctx = ctx.clone();
            wasm_bindgen_futures::spawn_local(async move {
                ctx.dispatch(Action::Progress(Some("demo_preparing")));
                match TokenHandle::demo(demo_transport()).await {
                    Ok(h) => after_connect(ctx, h).await,
                    Err(e) => ctx.fail(crate::ui_error::UiError::Other(e)),
                }
            });
        })
    };
    html! {
        <section class="card" id="start">
            <h2>{ ctx.t("env_title") }</h2>
            <ul class="checks">
                <li class={if secure {"ok"} else {"bad"}} id="env-secure">{ ctx.t(if secure {"env_secure_ok"} else {"env_secure_bad"}) }</li>
                <li class={if webusb {"ok"} else {"bad"}} id="env-webusb">{ ctx.t(if webusb {"env_webusb_ok"} else {"env_webusb_bad"}) }</li>
                <li class={if smart_card {"ok"} else {"info"}} id="env-smartcard">{ ctx.t(if smart_card {"env_smartcard_ok"} else {"env_smartcard_none"}) }</li>
            </ul>
            <div class="actions">
                // The best transport first: the platform's smart-card stack where it is offered.
                if smart_card {
                    <button id="connect-card" class="primary" onclick={connect_card}>{ ctx.t("connect_card") }</button>
                }
                <button id="connect-usb" class={if smart_card {""} else {"primary"}} disabled={!(secure && webusb)} onclick={connect_usb}>{ ctx.t("connect_usb") }</button>
                <button id="use-demo" onclick={use_demo}>{ ctx.t("use_demo") }</button>
            </div>
        </section>
    }
}
