//! The dashboard: renewals and money per day, money per month (bar charts drawn as SVG here,
//! no chart library), orders by state, certificates expiring soon, and the CSV exports.

use crate::i18n::Lang;
use crate::i18n_admin::t;
use api::{Dashboard as Data, DatedValue};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct DashboardProps {
    pub lang: Lang,
}

/// A bar chart of dated values: one bar each, the largest full height, labelled first and last.
fn bars(id: &str, values: &[DatedValue], money: bool) -> Html {
    let (w, h, pad) = (600.0_f64, 160.0_f64, 20.0_f64);
    let max = values.iter().map(|v| v.value).max().unwrap_or(0).max(1) as f64;
    let step = (w - 2.0 * pad) / values.len().max(1) as f64;
    let label = |v: i64| if money { api::yuan(v) } else { v.to_string() };
    html! {
        <svg id={id.to_string()} class="chart" viewBox={format!("0 0 {w} {}", h + 30.0)} role="img">
            { for values.iter().enumerate().map(|(i, v)| {
                let bh = (v.value as f64 / max) * h;
                let x = pad + i as f64 * step;
                html! {
                    <rect class="bar" x={format!("{:.1}", x + step * 0.1)} y={format!("{:.1}", h - bh)}
                        width={format!("{:.1}", step * 0.8)} height={format!("{bh:.1}")}
                        data-date={v.date.clone()} data-value={v.value.to_string()}>
                        <title>{ format!("{} {}", v.date, label(v.value)) }</title>
                    </rect>
                }
            }) }
            <line x1={pad.to_string()} y1={h.to_string()} x2={(w - pad).to_string()} y2={h.to_string()} class="axis" />
            if let (Some(first), Some(last)) = (values.first(), values.last()) {
                <text x={pad.to_string()} y={(h + 20.0).to_string()} class="tick">{ &first.date }</text>
                <text x={(w - pad).to_string()} y={(h + 20.0).to_string()} text-anchor="end" class="tick">{ &last.date }</text>
            }
            <text x={pad.to_string()} y="12" class="tick">{ label(max as i64) }</text>
        </svg>
    }
}

#[component]
pub fn Dashboard(props: &DashboardProps) -> Html {
    let lang = props.lang;
    let data = use_state(|| None::<Data>);
    {
        let data = data.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(d) = super::call::<Data>("GET", "/dashboard", None, None).await {
                    data.set(Some(d));
                }
            });
        });
    }
    let Some(d) = (*data).clone() else {
        return html! {};
    };
    let total = |v: &[DatedValue]| v.iter().map(|x| x.value).sum::<i64>();
    html! {
        <section class="card" id="dashboard">
            <h2>{ t(lang, "dashboard") }</h2>
            <div class="figures">
                <p>{ t(lang, "renewals_30d") }<strong id="renewals-30d">{ total(&d.renewals_per_day) }</strong></p>
                <p>{ t(lang, "revenue_30d") }<strong id="revenue-30d">{ api::yuan(total(&d.revenue_per_day)) }</strong></p>
                { for [30, 60, 90].iter().zip(d.expiring).map(|(days, n)| html! {
                    <p>{ t(lang, &format!("expiring_{days}")) }<strong id={format!("expiring-{days}")}>{ n }</strong></p>
                }) }
            </div>
            <h3>{ t(lang, "renewals_per_day") }</h3>
            { bars("chart-renewals", &d.renewals_per_day, false) }
            <h3>{ t(lang, "revenue_per_day") }</h3>
            { bars("chart-revenue-day", &d.revenue_per_day, true) }
            <h3>{ t(lang, "revenue_per_month") }</h3>
            { bars("chart-revenue-month", &d.revenue_per_month, true) }
            <h3>{ t(lang, "orders_by_state") }</h3>
            <table class="queue" id="orders-by-state"><tbody>
                { for d.orders_by_state.iter().map(|(s, n)| html! {
                    <tr data-state={s.clone()}><td>{ t(lang, &format!("status_{s}")) }</td><td class="count">{ n }</td></tr>
                }) }
            </tbody></table>
            <p class="actions">
                <a id="export-paid" class="button" href="/api/v1/admin/export/paid-orders.csv" download="">{ t(lang, "export_paid") }</a>
                <a id="export-invoices" class="button" href="/api/v1/admin/export/invoices.csv" download="">{ t(lang, "export_invoices") }</a>
            </p>
        </section>
    }
}
