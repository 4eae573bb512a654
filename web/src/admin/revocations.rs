//! The revocations: every certificate this CA revoked, newest first, with its reason.

use crate::components::token_view::date;
use crate::i18n::Lang;
use crate::i18n_admin::t;
use api::CertificateRecord;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct RevocationsProps {
    pub lang: Lang,
}

/// RFC 5280 reason codes as the console names them.
fn reason_key(code: Option<i64>) -> &'static str {
    match code {
        Some(1) => "reason_key_compromise",
        Some(3) => "reason_affiliation_changed",
        Some(4) => "reason_superseded",
        Some(5) => "reason_cessation_of_operation",
        _ => "reason_unspecified",
    }
}

#[component]
pub fn Revocations(props: &RevocationsProps) -> Html {
    let lang = props.lang;
    let list = use_state(|| None::<Vec<CertificateRecord>>);
    {
        let list = list.clone();
        use_effect_with((), move |_| {
            let load = move || {
                let list = list.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    if let Ok(r) = super::call::<Vec<CertificateRecord>>(
                        "GET",
                        "/certificates?revoked=true",
                        None,
                        None,
                    )
                    .await
                    {
                        list.set(Some(r));
                    }
                });
            };
            load();
            let tick = gloo_timers::callback::Interval::new(5_000, load);
            move || drop(tick)
        });
    }
    let Some(items) = (*list).clone() else {
        return html! {};
    };
    html! {
        <section class="card" id="revocations">
            <h2>{ t(lang, "revocations") }</h2>
            if items.is_empty() {
                <p id="revocations-empty">{ t(lang, "no_revocations") }</p>
            } else {
                <table class="queue"><tbody>
                { for items.iter().map(|c| html! {
                    <tr id={format!("revoked-{}", c.serial)}>
                        <td class="mono">{ &c.serial }</td><td>{ &c.subject }</td>
                        <td>{ c.revoked_at.map(date).unwrap_or_default() }</td><td class="reason">{ t(lang, reason_key(c.revocation_reason)) }</td>
                    </tr>
                }) }
                </tbody></table>
            }
        </section>
    }
}
