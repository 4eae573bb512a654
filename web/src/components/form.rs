//! The renewal application form (W5) with live validation; fees from the server's price list.

use crate::ctx::use_app;
use crate::flow::{Action, Screen};
use api::validate::Invalid;
use api::ApplicationForm;
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// Sets one field of the form by its dotted name (the same names the server reports).
pub fn set_field(f: &mut ApplicationForm, name: &str, v: String) {
    match name {
        "operator.id_number" => f.operator.id_number = v,
        "operator.name" => f.operator.name = v,
        "operator.mobile" => f.operator.mobile = v,
        "operator.email" => f.operator.email = v,
        "recipient.name" => f.recipient.name = v,
        "recipient.mobile" => f.recipient.mobile = v,
        "recipient.address" => f.recipient.address = v,
        "period_months" => f.period_months = v.parse().unwrap_or(f.period_months),
        _ => {}
    }
}

pub fn invalid_key(i: Invalid) -> &'static str {
    match i {
        Invalid::Required => "invalid_required",
        Invalid::Format => "invalid_format",
        Invalid::Checksum => "invalid_checksum",
        Invalid::BirthDate => "invalid_birth_date",
        Invalid::Region => "invalid_region",
        Invalid::TooLong => "invalid_too_long",
    }
}

pub fn today() -> u32 {
    let d = js_sys::Date::new_0();
    d.get_full_year() * 10_000 + (d.get_month() + 1) * 100 + d.get_date()
}

fn value(e: &Event) -> String {
    e.target()
        .and_then(|t| {
            t.dyn_into::<web_sys::HtmlInputElement>()
                .ok()
                .map(|i| i.value())
                .or_else(|| {
                    e.target()?
                        .dyn_into::<web_sys::HtmlSelectElement>()
                        .ok()
                        .map(|s| s.value())
                })
        })
        .unwrap_or_default()
}

#[component]
pub fn Form() -> Html {
    let ctx = use_app();
    let tried = use_state(|| false);
    let touched = use_state(Vec::<String>::new);
    let form = ctx.flow.form.clone();
    let errors = form.validate(today()).err().unwrap_or_default();
    let error_of = |name: &str| -> Option<&'static str> {
        if !*tried && !touched.contains(&name.to_string()) {
            return None;
        }
        errors
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, i)| invalid_key(*i))
    };
    let on = |name: &'static str| {
        let ctx = ctx.clone();
        let touched = touched.clone();
        Callback::from(move |e: Event| {
            let mut f = ctx.flow.form.clone();
            set_field(&mut f, name, value(&e));
            ctx.dispatch(Action::Form(f));
            if !touched.contains(&name.to_string()) {
                let mut t = (*touched).clone();
                t.push(name.to_string());
                touched.set(t);
            }
        })
    };
    let field = |name: &'static str, label: &'static str, kind: &'static str, current: &str| {
        let err = error_of(name);
        let id = name.replace('.', "-");
        let hint = (name == "operator.id_number")
            .then(|| ctx.flow.id_hint.clone())
            .flatten();
        html! {
            <label class={classes!("field", err.map(|_| "invalid"))}>
                <span>{ ctx.t(label) }<b class="req" title={ctx.t("required")}>{"*"}</b></span>
                <input id={id.clone()} type={kind} value={current.to_string()} placeholder={hint} onchange={on(name)} />
                if let Some(k) = err { <small class="error" id={format!("{id}-error")}>{ ctx.t(k) }</small> }
            </label>
        }
    };
    let submit = {
        let ctx = ctx.clone();
        let tried = tried.clone();
        let ok = errors.is_empty();
        Callback::from(move |_| {
            tried.set(true);
            if ok {
                let ctx = ctx.clone();
                wasm_bindgen_futures::spawn_local(async move { submit(ctx).await });
            }
        })
    };
    let back = {
        let ctx = ctx.clone();
        Callback::from(move |_| ctx.dispatch(Action::Go(Screen::Pin)))
    };
    let subject = ctx
        .flow
        .certificate
        .as_ref()
        .map(|(_, s)| s.subject.clone())
        .unwrap_or_default();
    let options = ctx
        .flow
        .prices
        .as_ref()
        .map(|p| p.options.clone())
        .unwrap_or_default();
    html! {
        <section class="card" id="form">
            <h2>{ ctx.t("form_title") }</h2>
            <label class="field"><span>{ ctx.t("subject") }</span><input id="subject" readonly=true value={subject} /></label>
            <label class="field">
                <span>{ ctx.t("period") }<b class="req">{"*"}</b></span>
                <select id="period" onchange={on("period_months")}>
                    { for options.iter().map(|o| html! {
                        <option value={o.months.to_string()} selected={o.months == form.period_months}>{ format!("{}{}", o.months, ctx.t("months")) }</option>
                    }) }
                </select>
            </label>
            <p class="fee">{ ctx.t("fee") }{ "：" }<strong id="fee">{ ctx.flow.fee().map(api::yuan).unwrap_or_default() }</strong>{ " " }{ ctx.t("yuan") }</p>
            <fieldset>
                <legend>{ ctx.t("operator") }</legend>
                <label class="field"><span>{ ctx.t("id_type") }</span><select id="id-type"><option>{ ctx.t("resident_id") }</option></select></label>
                { field("operator.id_number", "id_number", "text", &form.operator.id_number) }
                { field("operator.name", "name", "text", &form.operator.name) }
                { field("operator.mobile", "mobile", "tel", &form.operator.mobile) }
                { field("operator.email", "email", "email", &form.operator.email) }
            </fieldset>
            <fieldset>
                <legend>{ ctx.t("recipient") }</legend>
                { field("recipient.name", "name", "text", &form.recipient.name) }
                { field("recipient.mobile", "mobile", "tel", &form.recipient.mobile) }
                { field("recipient.address", "address", "text", &form.recipient.address) }
            </fieldset>
            <div class="actions">
                <button onclick={back}>{ ctx.t("back") }</button>
                <button id="form-submit" class="primary" onclick={submit}>{ ctx.t("submit") }</button>
            </div>
        </section>
    }
}

/// Signs the application on the token (the PIN was verified on the previous screen) and submits
/// it (`renewal::apply`).
async fn submit(ctx: crate::ctx::AppCtx) {
    use ccid::piv::PivError;
    use renewal::{RenewalError, TokenError};
    let Some(token) = (*ctx.token).clone() else {
        return;
    };
    let Some((der, _)) = ctx.flow.certificate.clone() else {
        return;
    };
    let form = ctx.flow.form.clone();
    ctx.dispatch(Action::Progress(Some("signing")));
    match renewal::apply(&token, &crate::api_client::Fetch, &der, &form).await {
        Ok((order, order_token)) => {
            crate::ctx::saved_order::save(&order.number, &order_token);
            ctx.dispatch(Action::Progress(None));
            ctx.dispatch(Action::Order {
                order,
                token: Some(order_token),
            });
        }
        // The token forgot the PIN (it was pulled out): ask for it again.
        Err(RenewalError::Token(TokenError::Piv(PivError::SecurityStatusNotSatisfied))) => {
            ctx.dispatch(Action::Go(Screen::Pin));
        }
        Err(e) => ctx.fail(e),
    }
}
