//! Review queue with search; approve or reject (with a reason) each order.

use super::AdminOrder;
use crate::i18n::Lang;
use crate::i18n_admin::t;
use wasm_bindgen::JsCast;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct QueueProps {
    pub lang: Lang,
    pub csrf: String,
}

#[component]
pub fn Queue(props: &QueueProps) -> Html {
    let lang = props.lang;
    let orders = use_state(Vec::<AdminOrder>::new);
    let query = use_state(String::new);
    let reasons = use_state(std::collections::HashMap::<String, String>::new);
    let message = use_state(|| None::<&'static str>);
    let reload = {
        let (orders, query) = (orders.clone(), query.clone());
        Callback::from(move |_: ()| {
            let (orders, q) = (orders.clone(), (*query).clone());
            wasm_bindgen_futures::spawn_local(async move {
                let path = format!(
                    "/orders?status=under_review&q={}",
                    js_sys::encode_uri_component(&q)
                );
                if let Ok(list) = super::call::<Vec<AdminOrder>>("GET", &path, None, None).await {
                    orders.set(list);
                }
            });
        })
    };
    {
        let reload = reload.clone();
        use_effect_with((*query).clone(), move |_| reload.emit(()));
    }
    let decide = |number: String, approve: bool| {
        let (csrf, reload, reasons, message) = (
            props.csrf.clone(),
            reload.clone(),
            reasons.clone(),
            message.clone(),
        );
        Callback::from(move |_| {
            let (csrf, reload, message, number) = (
                csrf.clone(),
                reload.clone(),
                message.clone(),
                number.clone(),
            );
            let reason = reasons.get(&number).cloned().unwrap_or_default();
            wasm_bindgen_futures::spawn_local(async move {
                let (path, body) = if approve {
                    (format!("/orders/{number}/approve"), None)
                } else {
                    (
                        format!("/orders/{number}/reject"),
                        Some(serde_json::json!({"reason": reason})),
                    )
                };
                match super::call::<serde_json::Value>("POST", &path, Some(&csrf), body).await {
                    Ok(_) => message.set(None),
                    Err(code) if code == "illegal_transition" => {
                        message.set(Some("decided_elsewhere"))
                    }
                    Err(code) if code == "certificate_revoked" => {
                        message.set(Some("revoked_refused"))
                    }
                    Err(code) if code == "forbidden" => message.set(Some("forbidden_role")),
                    Err(_) => message.set(Some("error")),
                }
                reload.emit(());
            });
        })
    };
    let on_search = {
        let query = query.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(i) = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            {
                query.set(i.value());
            }
        })
    };
    html! {
        <section class="card" id="queue">
            <h2>{ t(lang, "queue") }</h2>
            <input id="search" class="search" placeholder={t(lang, "search")} value={(*query).clone()} oninput={on_search} />
            if let Some(k) = *message { <p class="notice bad" id="queue-message">{ t(lang, k) }</p> }
            if orders.is_empty() {
                <p id="queue-empty">{ t(lang, "no_orders") }</p>
            }
            <table class="queue">
                <thead><tr>
                    <th>{ t(lang, "order_number") }</th><th>{ t(lang, "subject") }</th><th>{ t(lang, "operator") }</th>
                    <th>{ t(lang, "id_number") }</th><th>{ t(lang, "mobile") }</th><th>{ t(lang, "fee") }</th><th></th>
                </tr></thead>
                <tbody>
                { for orders.iter().map(|o| {
                    let n = o.number.clone();
                    let set_reason = {
                        let (reasons, n) = (reasons.clone(), n.clone());
                        Callback::from(move |e: InputEvent| {
                            if let Some(i) = e.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                                let mut r = (*reasons).clone();
                                r.insert(n.clone(), i.value());
                                reasons.set(r);
                            }
                        })
                    };
                    html! {
                        <tr id={format!("order-{}", o.number)}>
                            <td class="mono">{ &o.number }</td><td>{ &o.subject }</td><td>{ &o.operator_name }</td>
                            <td class="mono">{ &o.operator_id }</td><td class="mono">{ &o.operator_mobile }</td><td>{ api::yuan(o.fee_fen) }</td>
                            <td class="decide">
                                if o.certificate_revoked_at.is_some() {
                                    <strong class="bad revoked">{ t(lang, "cert_revoked_badge") }</strong>
                                } else {
                                    <button class="primary approve" onclick={decide(n.clone(), true)}>{ t(lang, "approve") }</button>
                                }
                                <input class="reason" placeholder={t(lang, "reject_reason")} oninput={set_reason} />
                                <button class="reject" onclick={decide(n.clone(), false)}>{ t(lang, "reject") }</button>
                            </td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
        </section>
    }
}
