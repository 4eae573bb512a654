//! Refunds on their way back through the provider, and those left `failed` after the job's last
//! attempt: a person sees what the provider last said and can ask it again.

use crate::i18n::Lang;
use crate::i18n_admin::t;
use api::RefundView;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct RefundsProps {
    pub lang: Lang,
    pub csrf: String,
}

fn load(list: UseStateHandle<Option<Vec<RefundView>>>) {
    wasm_bindgen_futures::spawn_local(async move {
        if let Ok(r) = super::call::<Vec<RefundView>>("GET", "/refunds", None, None).await {
            list.set(Some(r));
        }
    });
}

#[component]
pub fn Refunds(props: &RefundsProps) -> Html {
    let lang = props.lang;
    let list = use_state(|| None::<Vec<RefundView>>);
    let error = use_state(|| None::<String>);
    {
        // Refunds move by themselves (the job, the provider): the list follows every 5 s.
        let list = list.clone();
        use_effect_with((), move |_| {
            load(list.clone());
            let tick = gloo_timers::callback::Interval::new(5_000, move || load(list.clone()));
            move || drop(tick)
        });
    }
    let Some(items) = (*list).clone() else {
        return html! {};
    };
    let retry = |id: String| {
        let (list, error, csrf) = (list.clone(), error.clone(), props.csrf.clone());
        Callback::from(move |_| {
            let (list, error, csrf, id) = (list.clone(), error.clone(), csrf.clone(), id.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match super::call_empty(&format!("/refunds/{id}/retry"), &csrf).await {
                    Ok(()) => error.set(None),
                    Err(code) => error.set(Some(code)),
                }
                load(list);
            });
        })
    };
    html! {
        <section class="card" id="refunds">
            <h2>{ t(lang, "refunds") }</h2>
            if let Some(code) = &*error {
                <p class="notice bad" id="refund-error">{ match t(lang, code) { "?" => code.as_str(), text => text } }</p>
            }
            if items.is_empty() {
                <p id="refunds-empty">{ t(lang, "no_refunds") }</p>
            } else {
                <table class="queue">
                    <thead><tr>
                        <th>{ t(lang, "order_number") }</th><th>{ t(lang, "trade_no") }</th><th>{ t(lang, "refund_amount") }</th>
                        <th>{ t(lang, "status") }</th><th>{ t(lang, "attempts") }</th><th>{ t(lang, "last_result") }</th><th></th>
                    </tr></thead>
                    <tbody>
                    { for items.iter().map(|r| {
                        let failed = r.status == "failed";
                        html! {
                            <tr id={format!("refund-{}", r.id)} class={classes!(failed.then_some("bad"))} title={r.reason.clone()}>
                                <td class="mono">{ &r.order_number }</td><td class="mono">{ &r.trade_no }</td>
                                <td>{ api::yuan(r.amount_fen) }</td>
                                <td class="refund-status">{ t(lang, if failed { "refund_failed" } else { "refund_pending" }) }</td>
                                <td>{ r.attempts }</td><td class="note">{ &r.last_error }</td>
                                <td>if failed {
                                    <button class="retry" onclick={retry(r.id.clone())}>{ t(lang, "retry_refund") }</button>
                                }</td>
                            </tr>
                        }
                    }) }
                    </tbody>
                </table>
            }
        </section>
    }
}
