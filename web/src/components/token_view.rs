//! "My certificates" (W3, W11): what the token holds, and the way on (apply, or the offline route).

use crate::ctx::use_app;
use crate::flow::{Action, Screen};
use yew::prelude::*;

pub fn date(t: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(t as f64 * 1000.0));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

#[component]
pub fn TokenView() -> Html {
    let ctx = use_app();
    let Some((_, s)) = ctx.flow.certificate.clone() else {
        return html! { <section class="card"><p id="no-cert">{ ctx.t("no_cert") }</p></section> };
    };
    let apply = {
        let ctx = ctx.clone();
        Callback::from(move |_| ctx.dispatch(Action::Go(Screen::Agreement)))
    };
    let window_days = ctx
        .flow
        .prices
        .as_ref()
        .map(|p| p.renewal_window_days)
        .unwrap_or(90);
    let window_opens = s.not_after - window_days * 86_400;
    let now = (js_sys::Date::now() / 1000.0) as i64;
    let via = ctx.token.as_ref().map(|t| match t.transport() {
        crate::token_access::Transport::WebUsb => "via_webusb",
        crate::token_access::Transport::SmartCard => "via_smartcard",
    });
    html! {
        <section class="card" id="token">
            <h2>{ ctx.t("my_certs") }</h2>
            <dl class="cert">
                <dt>{ ctx.t("subject") }</dt><dd id="cert-subject">{ &s.subject }</dd>
                <dt>{ ctx.t("issuer") }</dt><dd>{ &s.issuer }</dd>
                <dt>{ ctx.t("serial") }</dt><dd class="mono">{ &s.serial }</dd>
                <dt>{ ctx.t("valid_from") }</dt><dd>{ date(s.not_before) }</dd>
                <dt>{ ctx.t("valid_to") }</dt><dd id="cert-not-after">{ date(s.not_after) }</dd>
                if let Some(via) = via {
                    <dt>{ ctx.t("via") }</dt><dd id="transport" data-transport={via}>{ ctx.t(via) }</dd>
                }
                <dt>{ ctx.t("days_left") }</dt><dd id="cert-days-left" class={if s.days_left < 30 {"warn"} else {""}}>{ s.days_left.max(0) }</dd>
            </dl>
            if s.expired {
                <div class="notice bad" id="expired">
                    <h3>{ ctx.t("expired_title") }</h3>
                    <p>{ ctx.t("expired_text") }</p>
                    <p>{ ctx.t("contacts") }</p>
                </div>
            } else if now < window_opens {
                <p class="notice" id="not-yet">{ ctx.t("not_yet_window") }{ " " }{ window_days }</p>
            } else {
                <div class="actions"><button id="apply" class="primary" onclick={apply}>{ ctx.t("apply") }</button></div>
            }
        </section>
    }
}
