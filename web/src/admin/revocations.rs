//! Certificates: the revocations (newest first, with their reason) until a search asks for
//! others by part of the serial or subject; a certificate's page opens from either list.

use crate::components::token_view::date;
use crate::i18n::Lang;
use crate::i18n_admin::t;
use api::{CertificateDetail, CertificateRecord};
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
    let query = use_state(String::new);
    let found = use_state(|| None::<Vec<CertificateRecord>>);
    let open = use_state(|| None::<CertificateDetail>);
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
    let search = {
        let (query, found) = (query.clone(), found.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (found, q) = (found.clone(), (*query).clone());
            wasm_bindgen_futures::spawn_local(async move {
                let path = format!("/certificates?q={}", js_sys::encode_uri_component(&q));
                if let Ok(r) = super::call::<Vec<CertificateRecord>>("GET", &path, None, None).await
                {
                    found.set(Some(r));
                }
            });
        })
    };
    let show = {
        let open = open.clone();
        move |serial: String| {
            let open = open.clone();
            Callback::from(move |e: MouseEvent| {
                e.prevent_default();
                let (open, serial) = (open.clone(), serial.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    let path = format!("/certificates/{serial}");
                    if let Ok(d) = super::call::<CertificateDetail>("GET", &path, None, None).await
                    {
                        open.set(Some(d));
                    }
                });
            })
        }
    };
    let row = |c: &CertificateRecord, id: String| {
        html! {
            <tr id={id}>
                <td class="mono"><a href="#" class="open-certificate" onclick={show(c.serial.clone())}>{ &c.serial }</a></td>
                <td>{ &c.subject }</td><td>{ date(c.not_after) }</td>
                <td>{ c.revoked_at.map(date).unwrap_or_default() }</td>
                <td class="reason">{ if c.revoked_at.is_some() { t(lang, reason_key(c.revocation_reason)) } else { "" } }</td>
            </tr>
        }
    };
    let Some(items) = (*list).clone() else {
        return html! {};
    };
    html! {
        <section class="card" id="revocations">
            <h2>{ t(lang, "certificates_title") }</h2>
            <form class="search-row" onsubmit={search}>
                <input id="certificates-search" class="search" placeholder={t(lang, "certificates_search")} value={(*query).clone()}
                    onchange={let q = query.clone(); Callback::from(move |e: Event| q.set(super::value(&e)))} />
                <button id="certificates-search-submit" type="submit">{ t(lang, "search_button") }</button>
            </form>
            if let Some(list) = &*found {
                <table class="queue" id="certificates-found"><tbody>
                { for list.iter().map(|c| row(c, format!("found-cert-{}", c.serial))) }
                </tbody></table>
            }
            <h3>{ t(lang, "revocations") }</h3>
            if items.is_empty() {
                <p id="revocations-empty">{ t(lang, "no_revocations") }</p>
            } else {
                <table class="queue"><tbody>
                { for items.iter().map(|c| row(c, format!("revoked-{}", c.serial))) }
                </tbody></table>
            }
            if let Some(d) = &*open {
                <CertificatePage lang={lang} detail={d.clone()} />
            }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct CertificatePageProps {
    lang: Lang,
    detail: CertificateDetail,
}

/// A certificate's page: what it is, its revocation, its lineage and orders, its PEM.
#[component]
fn CertificatePage(props: &CertificatePageProps) -> Html {
    let (lang, d) = (props.lang, &props.detail);
    let c = &d.certificate;
    html! {
        <div class="order-page" id="certificate-page">
            <h3 class="mono">{ &c.serial }</h3>
            <dl class="cert">
                <dt>{ t(lang, "subject") }</dt><dd id="certificate-subject">{ &c.subject }</dd>
                <dt>{ t(lang, "issuer") }</dt><dd>{ &d.issuer }</dd>
                <dt>{ t(lang, "validity") }</dt><dd>{ format!("{} – {}", date(d.not_before), date(c.not_after)) }</dd>
                <dt>{ t(lang, "key") }</dt><dd>{ &d.key }</dd>
                <dt>{ "SHA-256" }</dt><dd class="mono">{ &d.fingerprint }</dd>
                if let Some(at) = c.revoked_at {
                    <dt>{ t(lang, "cert_revoked_badge") }</dt>
                    <dd id="certificate-revoked">{ format!("{} · {} · {}", date(at), t(lang, reason_key(c.revocation_reason)), d.revoked_by.clone().unwrap_or_default()) }</dd>
                }
                if let Some(prev) = &d.renews {
                    <dt>{ t(lang, "cert_renews") }</dt><dd class="mono">{ prev }</dd>
                }
                if !d.renewed_by.is_empty() {
                    <dt>{ t(lang, "cert_renewed_by") }</dt><dd class="mono">{ d.renewed_by.join(", ") }</dd>
                }
                <dt>{ t(lang, "cert_orders") }</dt>
                <dd id="certificate-orders" class="mono">{ d.orders.iter().map(|o| o.number.as_str()).collect::<Vec<_>>().join(", ") }</dd>
            </dl>
            <pre class="pem" id="certificate-pem">{ &d.pem }</pre>
        </div>
    }
}
