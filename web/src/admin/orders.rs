//! All orders: search by number, subject or operator name (any state), and an order's page —
//! its timeline, payments and refunds with the provider's trade numbers, certificates (revoked
//! here by an operator, with a reason and a confirmation), notices.

use crate::components::token_view::date;
use crate::i18n::Lang;
use crate::i18n_admin::t;
use api::{AdminOrder, OrderDetail};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct OrdersProps {
    pub lang: Lang,
    pub csrf: String,
}

use super::value;

const REASONS: [&str; 5] = [
    "key_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
    "unspecified",
];

fn status_key(s: &str) -> String {
    format!("status_{s}")
}

#[component]
pub fn Orders(props: &OrdersProps) -> Html {
    let lang = props.lang;
    let query = use_state(String::new);
    let found = use_state(|| None::<Vec<AdminOrder>>);
    let open = use_state(|| None::<OrderDetail>);
    let message = use_state(|| None::<String>);
    let search = {
        let (query, found) = (query.clone(), found.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (found, q) = (found.clone(), (*query).clone());
            wasm_bindgen_futures::spawn_local(async move {
                let path = format!("/orders?status=all&q={}", js_sys::encode_uri_component(&q));
                if let Ok(list) = super::call::<Vec<AdminOrder>>("GET", &path, None, None).await {
                    found.set(Some(list));
                }
            });
        })
    };
    let load = {
        let (open, message) = (open.clone(), message.clone());
        move |number: String| {
            let (open, message) = (open.clone(), message.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match super::call::<OrderDetail>("GET", &format!("/orders/{number}"), None, None)
                    .await
                {
                    Ok(d) => open.set(Some(d)),
                    Err(code) => message.set(Some(code)),
                }
            });
        }
    };
    html! {
        <section class="card" id="orders">
            <h2>{ t(lang, "all_orders") }</h2>
            <form class="search-row" onsubmit={search}>
                <input id="orders-search" class="search" placeholder={t(lang, "orders_search")} value={(*query).clone()}
                    onchange={let q = query.clone(); Callback::from(move |e: Event| q.set(value(&e)))} />
                <button id="orders-search-submit" type="submit">{ t(lang, "search_button") }</button>
            </form>
            if let Some(code) = &*message {
                <p class="notice bad" id="orders-message">{ message_text(lang, code) }</p>
            }
            if let Some(list) = &*found {
                if list.is_empty() { <p id="orders-none">{ t(lang, "no_orders") }</p> }
                <table class="queue" id="orders-found">
                    <thead><tr>
                        <th>{ t(lang, "order_number") }</th><th>{ t(lang, "subject") }</th><th>{ t(lang, "operator") }</th>
                        <th>{ t(lang, "status") }</th><th>{ t(lang, "applied_at") }</th>
                    </tr></thead>
                    <tbody>
                    { for list.iter().map(|o| {
                        let (n, load) = (o.number.clone(), load.clone());
                        html! {
                            <tr id={format!("found-{}", o.number)}>
                                <td class="mono"><a href="#" class="open-order" onclick={Callback::from(move |e: MouseEvent| { e.prevent_default(); load(n.clone()) })}>{ &o.number }</a></td>
                                <td>{ &o.subject }</td><td>{ &o.operator_name }</td>
                                <td>{ t(lang, &status_key(o.status.as_str())) }</td><td>{ date(o.applied_at) }</td>
                            </tr>
                        }
                    }) }
                    </tbody>
                </table>
            }
            if let Some(d) = &*open {
                <OrderPage lang={lang} csrf={props.csrf.clone()} detail={d.clone()}
                    on_change={let (load, n) = (load.clone(), d.order.number.clone()); Callback::from(move |_| load(n.clone()))} />
            }
        </section>
    }
}

/// An error code of the API as the console says it.
fn message_text(lang: Lang, code: &str) -> String {
    match code {
        "forbidden" => t(lang, "forbidden_role").to_string(),
        "already_revoked" => t(lang, "already_revoked").to_string(),
        "nothing_to_resend" => t(lang, "nothing_to_resend").to_string(),
        other => format!("{} ({other})", t(lang, "error")),
    }
}

#[derive(Properties, PartialEq)]
struct OrderPageProps {
    lang: Lang,
    csrf: String,
    detail: OrderDetail,
    on_change: Callback<()>,
}

#[component]
fn OrderPage(props: &OrderPageProps) -> Html {
    let (lang, d) = (props.lang, &props.detail);
    let reason = use_state(|| REASONS[0].to_string());
    let confirming = use_state(|| None::<String>);
    let message = use_state(|| None::<String>);
    let revoke = {
        let (csrf, reason, confirming, message, done) = (
            props.csrf.clone(),
            reason.clone(),
            confirming.clone(),
            message.clone(),
            props.on_change.clone(),
        );
        Callback::from(move |_| {
            let Some(serial) = (*confirming).clone() else {
                return;
            };
            let (csrf, reason, confirming, message, done) = (
                csrf.clone(),
                (*reason).clone(),
                confirming.clone(),
                message.clone(),
                done.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                let path = format!("/certificates/{serial}/revoke");
                let body = serde_json::json!({ "reason": reason });
                match super::call_post(&path, &csrf, body).await {
                    Ok(()) => message.set(None),
                    Err(code) => message.set(Some(code)),
                }
                confirming.set(None);
                done.emit(());
            });
        })
    };
    let resend = {
        let (csrf, number, message, done) = (
            props.csrf.clone(),
            d.order.number.clone(),
            message.clone(),
            props.on_change.clone(),
        );
        Callback::from(move |_| {
            let (csrf, number, message, done) =
                (csrf.clone(), number.clone(), message.clone(), done.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match super::call_empty(&format!("/orders/{number}/resend"), &csrf).await {
                    Ok(()) => message.set(None),
                    Err(code) => message.set(Some(code)),
                }
                done.emit(());
            });
        })
    };
    let o = &d.order;
    html! {
        <div class="order-page" id={format!("order-page-{}", o.number)}>
            <h3>{ t(lang, "order_number") }{ " " }<span class="mono">{ &o.number }</span></h3>
            <dl class="cert">
                <dt>{ t(lang, "subject") }</dt><dd>{ &o.subject }</dd>
                <dt>{ t(lang, "status") }</dt><dd id="order-page-status">{ t(lang, &status_key(o.status.as_str())) }</dd>
                <dt>{ t(lang, "operator") }</dt><dd>{ &o.operator_name }</dd>
                <dt>{ t(lang, "id_number") }</dt>
                <dd class="mono" id="order-page-id">{ d.form.as_ref().map_or(o.operator_id.clone(), |f| f.operator.id_number.clone()) }</dd>
                <dt>{ t(lang, "mobile") }</dt>
                <dd class="mono">{ d.form.as_ref().map_or(o.operator_mobile.clone(), |f| f.operator.mobile.clone()) }</dd>
            </dl>
            if let Some(code) = &*message {
                <p class="notice bad" id="order-page-message">{ message_text(lang, code) }</p>
            }
            <h4>{ t(lang, "timeline") }</h4>
            <table class="queue" id="timeline">
                <thead><tr><th>{ t(lang, "when") }</th><th>{ t(lang, "who") }</th><th>{ t(lang, "from_to") }</th><th>{ t(lang, "note") }</th></tr></thead>
                <tbody>
                { for d.timeline.iter().map(|s| html! {
                    <tr class="step" data-to={s.to.clone()}>
                        <td>{ date(s.at) }</td><td>{ &s.actor }</td>
                        <td>{ if s.from == s.to || s.from.is_empty() { t(lang, &status_key(&s.to)).to_string() } else { format!("{} → {}", t(lang, &status_key(&s.from)), t(lang, &status_key(&s.to))) } }</td>
                        <td>{ &s.note }</td>
                    </tr>
                }) }
                </tbody>
            </table>
            <h4>{ t(lang, "payments") }</h4>
            <table class="queue" id="payments">
                <thead><tr><th>{ t(lang, "payment_id") }</th><th>{ t(lang, "pay_method") }</th><th>{ t(lang, "trade_no") }</th><th>{ t(lang, "fee") }</th><th>{ t(lang, "status") }</th></tr></thead>
                <tbody>
                { for d.payments.iter().map(|p| html! {
                    <tr><td class="mono">{ &p.id }</td><td>{ t(lang, crate::i18n::payment_method_key(p.method)) }</td>
                        <td class="mono">{ &p.trade_no }</td><td>{ api::yuan(p.amount_fen) }</td><td>{ &p.status }</td></tr>
                }) }
                { for d.refunds.iter().map(|r| html! {
                    <tr class="refund"><td class="mono">{ &r.id }</td><td>{ t(lang, "refund_amount") }</td>
                        <td class="mono">{ &r.trade_no }</td><td>{ api::yuan(r.amount_fen) }</td><td>{ &r.status }</td></tr>
                }) }
                </tbody>
            </table>
            <h4>{ t(lang, "certificates") }</h4>
            <table class="queue" id="certificates">
                <thead><tr><th>{ t(lang, "serial") }</th><th></th><th>{ t(lang, "not_after") }</th><th>{ t(lang, "status") }</th><th></th></tr></thead>
                <tbody>
                { for d.certificates.iter().map(|c| {
                    let serial = c.serial.clone();
                    let ask = { let (confirming, serial) = (confirming.clone(), serial.clone()); Callback::from(move |_| confirming.set(Some(serial.clone()))) };
                    html! {
                        <tr id={format!("cert-{}", c.serial)} class="certificate">
                            <td class="mono">{ &c.serial }</td><td>{ t(lang, if c.role == "issued" { "cert_issued" } else { "cert_renewed" }) }</td>
                            <td>{ date(c.not_after) }</td>
                            <td class="cert-state">{ match c.revoked_at { Some(at) => format!("{} {}", t(lang, "revoked"), date(at)), None => t(lang, "valid").to_string() } }</td>
                            <td>if c.revoked_at.is_none() {
                                if confirming.as_deref() == Some(serial.as_str()) {
                                    <span class="confirm-revoke">
                                        <select class="revoke-reason" onchange={let r = reason.clone(); Callback::from(move |e: Event| r.set(value(&e)))}>
                                            { for REASONS.iter().map(|k| html! { <option value={*k} selected={*reason == *k}>{ t(lang, &format!("reason_{k}")) }</option> }) }
                                        </select>
                                        <button class="bad revoke-confirm" onclick={revoke.clone()}>{ t(lang, "revoke_confirm") }</button>
                                        <button class="link revoke-cancel" onclick={let c = confirming.clone(); Callback::from(move |_| c.set(None))}>{ t(lang, "back") }</button>
                                    </span>
                                } else {
                                    <button class="revoke" onclick={ask}>{ t(lang, "revoke") }</button>
                                }
                            }</td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
            <h4>{ t(lang, "notices") }{ " " }<button id="resend-notices" class="link" onclick={resend}>{ t(lang, "resend_notices") }</button></h4>
            <table class="queue" id="notices">
                <tbody>
                { for d.notices.iter().map(|n| html! {
                    <tr class="notice-row"><td>{ &n.kind }</td><td class="mono">{ &n.recipient }</td><td>{ &n.subject }</td>
                        <td>{ n.sent_at.map_or(t(lang, "notice_queued").to_string(), |at| format!("{} {}", t(lang, "notice_sent"), date(at))) }</td></tr>
                }) }
                </tbody>
            </table>
        </div>
    }
}
