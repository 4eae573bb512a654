//! The electronic certification service agreement (W4).

use crate::ctx::use_app;
use crate::flow::{Action, Screen};
use yew::prelude::*;

#[component]
pub fn Agreement() -> Html {
    let ctx = use_app();
    let accepted = use_state(|| false);
    let text = use_state(|| None::<api::Agreement>);
    {
        let text = text.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(a) = crate::api_client::get::<api::Agreement>("/agreement", None).await {
                    text.set(Some(a));
                }
            });
        });
    }
    let toggle = {
        let accepted = accepted.clone();
        Callback::from(move |_| accepted.set(!*accepted))
    };
    let next = {
        let ctx = ctx.clone();
        Callback::from(move |_| ctx.dispatch(Action::Go(Screen::Pin)))
    };
    let back = {
        let ctx = ctx.clone();
        Callback::from(move |_| ctx.dispatch(Action::Go(Screen::Token)))
    };
    html! {
        <section class="card" id="agreement">
            <h2>{ text.as_ref().map(|a| a.title.clone()).unwrap_or_default() }</h2>
            <pre class="agreement">{ text.as_ref().map(|a| a.text.clone()).unwrap_or_default() }</pre>
            <label class="check"><input id="accept" type="checkbox" checked={*accepted} onchange={toggle} />{ ctx.t("agreement_accept") }</label>
            <div class="actions">
                <button onclick={back}>{ ctx.t("back") }</button>
                <button id="agreement-next" class="primary" disabled={!*accepted} onclick={next}>{ ctx.t("next") }</button>
            </div>
        </section>
    }
}
