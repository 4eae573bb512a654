//! Payment discrepancies: money of a wrong amount the provider reported, kept for a person to
//! settle (the orders never take it, and it is never dropped).

use super::Discrepancy;
use crate::i18n::Lang;
use crate::i18n_admin::t;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct DiscrepanciesProps {
    pub lang: Lang,
}

#[component]
pub fn Discrepancies(props: &DiscrepanciesProps) -> Html {
    let lang = props.lang;
    let list = use_state(|| None::<Vec<Discrepancy>>);
    {
        let list = list.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(d) =
                    super::call::<Vec<Discrepancy>>("GET", "/discrepancies", None, None).await
                {
                    list.set(Some(d));
                }
            });
        });
    }
    let Some(items) = (*list).clone() else {
        return html! {};
    };
    html! {
        <section class="card" id="discrepancies">
            <h2>{ t(lang, "discrepancies") }</h2>
            if items.is_empty() {
                <p id="discrepancies-empty">{ t(lang, "no_discrepancies") }</p>
            } else {
                <table class="queue">
                    <thead><tr>
                        <th>{ t(lang, "order_number") }</th><th>{ t(lang, "payment_id") }</th><th>{ t(lang, "trade_no") }</th>
                        <th>{ t(lang, "amount_paid") }</th><th>{ t(lang, "amount_expected") }</th>
                    </tr></thead>
                    <tbody>
                    { for items.iter().map(|d| html! {
                        <tr id={format!("discrepancy-{}", d.trade_no)} title={d.kind.clone()}>
                            <td class="mono">{ &d.order_number }</td><td class="mono">{ &d.payment_id }</td><td class="mono">{ &d.trade_no }</td>
                            <td>{ api::yuan(d.amount_fen) }</td><td>{ api::yuan(d.expected_fen) }</td>
                        </tr>
                    }) }
                    </tbody>
                </table>
            }
        </section>
    }
}
