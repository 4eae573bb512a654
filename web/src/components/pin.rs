//! PIN entry (W6): tries left shown, a warning before the last try. The PIN goes to the token
//! only; once verified, the token proves its key holder is here and the form is prefilled with
//! the previous renewal's details. The application is signed without asking again.

use crate::ctx::use_app;
use crate::flow::{Action, Screen};
use ccid::piv::{Pin, PinState, PivError};
use wasm_bindgen::JsCast;
use yew::prelude::*;

#[component]
pub fn PinEntry() -> Html {
    let ctx = use_app();
    let pin = use_state(String::new);
    {
        let ctx = ctx.clone();
        use_effect_with((), move |_| {
            if let Some(token) = (*ctx.token).clone() {
                wasm_bindgen_futures::spawn_local(async move {
                    match token.with(async |piv| piv.pin_state().await).await {
                        Ok(PinState::TriesLeft(n)) => ctx.dispatch(Action::PinTries(Some(n))),
                        Ok(PinState::Blocked) => ctx.dispatch(Action::PinTries(Some(0))),
                        _ => ctx.dispatch(Action::PinTries(None)),
                    }
                });
            }
        });
    }
    let oninput = {
        let pin = pin.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(i) = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            {
                pin.set(i.value());
            }
        })
    };
    let confirm = {
        let ctx = ctx.clone();
        let pin = pin.clone();
        Callback::from(move |_| {
            let ctx = ctx.clone();
            let entered = (*pin).clone();
            pin.set(String::new());
            wasm_bindgen_futures::spawn_local(async move { submit(ctx, entered).await });
        })
    };
    let back = {
        let ctx = ctx.clone();
        Callback::from(move |_| ctx.dispatch(Action::Go(Screen::Agreement)))
    };
    let tries = ctx.flow.pin_tries;
    html! {
        <section class="card" id="pin">
            <h2>{ ctx.t("pin_title") }</h2>
            <p class="note">{ ctx.t("pin_note") }</p>
            if let Some(n) = tries {
                <p id="pin-tries">{ ctx.t("pin_tries") }{ "：" }<strong>{ n }</strong></p>
                if n == 1 { <p class="notice bad" id="pin-last-try">{ ctx.t("pin_last_try") }</p> }
                if n == 0 { <p class="notice bad" id="pin-blocked">{ ctx.t("pin_blocked") }</p> }
            }
            <input id="pin-input" type="password" inputmode="numeric" autocomplete="off" maxlength="8" value={(*pin).clone()} {oninput}
                readonly={crate::kiosk::enabled()} />
            if crate::kiosk::enabled() {
                <crate::components::pinpad::PinPad id="pin-pad" value={(*pin).clone()} on_change={let p = pin.clone(); Callback::from(move |v| p.set(v))} />
            }
            <div class="actions">
                <button onclick={back}>{ ctx.t("back") }</button>
                <button id="pin-confirm" class="primary" disabled={pin.len() < 6 || tries == Some(0)} onclick={confirm}>{ ctx.t("confirm") }</button>
            </div>
        </section>
    }
}

/// Verifies the PIN on the token, then fetches the previous renewal's details with a signature
/// that proves the key holder is present (`renewal::prefill`).
async fn submit(ctx: crate::ctx::AppCtx, entered: String) {
    use renewal::{RenewalError, TokenError};
    let Some(token) = (*ctx.token).clone() else {
        return;
    };
    let Some((der, _)) = ctx.flow.certificate.clone() else {
        return;
    };
    let Ok(pin) = Pin::new(entered.as_bytes()) else {
        return ctx.fail("pin_wrong");
    };
    ctx.dispatch(Action::Progress(Some("signing")));
    match renewal::prefill(&token, &crate::api_client::Fetch, &der, &pin).await {
        Ok(prefill) => {
            // Without the previous details the form simply starts empty.
            if let Some(p) = prefill {
                ctx.dispatch(Action::Prefill(p));
            }
            ctx.dispatch(Action::Progress(None));
            ctx.dispatch(Action::Go(Screen::Form));
        }
        Err(RenewalError::Token(TokenError::Piv(PivError::WrongPin { tries_left }))) => {
            ctx.dispatch(Action::PinTries(Some(tries_left)));
            ctx.fail("pin_wrong");
        }
        Err(e) => {
            if matches!(e, RenewalError::Token(TokenError::Piv(PivError::Blocked))) {
                ctx.dispatch(Action::PinTries(Some(0)));
            }
            ctx.fail(e);
        }
    }
}
