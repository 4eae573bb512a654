//! Environment check (W2) and connecting a token (W3).

use crate::ctx::{saved_order, use_app};
use crate::flow::{Action, Screen};
use crate::token_access::TokenHandle;
use yew::prelude::*;

fn webusb_available() -> bool {
    web_sys::window()
        .map(|w| js_sys::Reflect::has(&w.navigator(), &"usb".into()).unwrap_or(false))
        .unwrap_or(false)
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
                Err(e) => return ctx.fail(e.to_string()),
            }
        }
        Ok(None) => ctx.dispatch(Action::Certificate(None)),
        Err(e) => return ctx.fail(crate::ctx::token_error_key(&e)),
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
    let (secure, webusb) = (secure(), webusb_available());
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
                    Err(e) => ctx.fail(e.to_string()),
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
                match TokenHandle::demo().await {
                    Ok(h) => after_connect(ctx, h).await,
                    Err(e) => ctx.fail(e),
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
            </ul>
            <div class="actions">
                <button id="connect-usb" class="primary" disabled={!(secure && webusb)} onclick={connect_usb}>{ ctx.t("connect_usb") }</button>
                <button id="use-demo" onclick={use_demo}>{ ctx.t("use_demo") }</button>
            </div>
        </section>
    }
}
