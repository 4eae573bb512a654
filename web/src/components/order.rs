//! The order page (W7), payment (W8, W9) and installation (W10). The page follows the order's
//! status by itself; every step can be resumed after a reload or a pulled token.

use crate::components::token_view::date;
use crate::ctx::{saved_order, use_app, AppCtx};
use crate::flow::{Action, Placed, Screen};
use api::{OrderStatus, OrderView};
use ccid::piv::Pin;
use wasm_bindgen::JsCast;
use yew::prelude::*;

const STEPS: [&str; 5] = [
    "step_apply",
    "step_pay",
    "step_review",
    "step_install",
    "step_done",
];

fn input_value(e: &InputEvent) -> String {
    e.target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        .map(|i| i.value())
        .unwrap_or_default()
}

async fn reload(ctx: &AppCtx) {
    let Some(Placed { order: o, token: t }) = ctx.flow.placed().cloned() else {
        return;
    };
    match crate::api_client::get::<OrderView>(&format!("/orders/{}", o.number), Some(&t)).await {
        Ok(order) if order != o => ctx.dispatch(Action::Order { order, token: None }),
        Ok(_) => {}
        Err(e) => ctx.fail(e),
    }
}

#[component]
pub fn Order() -> Html {
    let ctx = use_app();
    let Some(Placed {
        order,
        token: token_hdr,
    }) = ctx.flow.placed().cloned()
    else {
        return html! {};
    };
    let paying = use_state(|| false);
    let prefill = ctx.flow.invoice_prefill.clone().unwrap_or_default();
    let title = use_state(|| prefill.0.clone());
    let taxpayer = use_state(|| prefill.1.clone());
    let pin = use_state(String::new);
    // The methods this server takes; a kiosk pays by phone only (no page to leave the flow to).
    let kiosk = crate::kiosk::enabled();
    let methods: Vec<api::PaymentMethod> = ctx
        .flow
        .prices
        .as_ref()
        .map(|p| p.payment_methods.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|m| !kiosk || *m != api::PaymentMethod::AlipayPage)
        .collect();
    // The choice, else the first method offered (the price list may arrive after this page).
    let chosen = use_state(|| None::<api::PaymentMethod>);
    let method = (*chosen)
        .filter(|m| methods.contains(m))
        .or(methods.first().copied());
    // Follow the status while something outside this page moves it (payment, review).
    {
        let ctx = ctx.clone();
        let waiting = matches!(
            order.status,
            OrderStatus::AwaitingPayment | OrderStatus::Paid | OrderStatus::UnderReview
        );
        use_effect_with((order.status, waiting), move |(_, waiting)| {
            let interval = waiting.then(|| {
                gloo_timers::callback::Interval::new(2_000, move || {
                    let ctx = ctx.clone();
                    wasm_bindgen_futures::spawn_local(async move { reload(&ctx).await });
                })
            });
            move || drop(interval)
        });
    }
    let step = usize::from(order.progress_step);
    let bar = html! {
        <ol class="progress" id="progress">
            { for STEPS.iter().enumerate().map(|(i, k)| html! {
                <li class={classes!(if i + 1 < step || step == 5 {"done"} else if i + 1 == step {"current"} else {""})}>{ ctx.t(k) }</li>
            }) }
        </ol>
    };
    let cancel = {
        let ctx = ctx.clone();
        let (n, t) = (order.number.clone(), token_hdr.clone());
        Callback::from(move |_| {
            let (ctx, n, t) = (ctx.clone(), n.clone(), t.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match crate::api_client::post::<_, OrderView>(
                    &format!("/orders/{n}/cancel"),
                    Some(&t),
                    &(),
                )
                .await
                {
                    Ok(order) => {
                        saved_order::clear();
                        ctx.dispatch(Action::Order { order, token: None });
                    }
                    Err(e) => ctx.fail(e),
                }
            });
        })
    };
    let pay = {
        let ctx = ctx.clone();
        let (n, t) = (order.number.clone(), token_hdr.clone());
        let (title, taxpayer) = (title.clone(), taxpayer.clone());
        Callback::from(move |_| {
            let (ctx, n, t) = (ctx.clone(), n.clone(), t.clone());
            let Some(method) = method else {
                return;
            };
            let body = api::PaymentRequest {
                method,
                invoice_title: (*title).clone(),
                taxpayer_id: (*taxpayer).clone(),
            };
            wasm_bindgen_futures::spawn_local(async move {
                match crate::api_client::post::<_, api::PaymentView>(
                    &format!("/orders/{n}/payments"),
                    Some(&t),
                    &body,
                )
                .await
                {
                    Ok(_) => reload(&ctx).await,
                    Err(e) => ctx.fail(e),
                }
            });
        })
    };
    let install = {
        let ctx = ctx.clone();
        let pin = pin.clone();
        Callback::from(move |_| {
            let ctx = ctx.clone();
            let entered = (*pin).clone();
            pin.set(String::new());
            wasm_bindgen_futures::spawn_local(async move { install(ctx, entered).await });
        })
    };
    let restart = {
        let ctx = ctx.clone();
        Callback::from(move |_| {
            saved_order::clear();
            ctx.dispatch(Action::Go(Screen::Token));
        })
    };
    let taxpayer_error = (!taxpayer.is_empty())
        .then(|| api::validate::social_credit_code(&taxpayer).err())
        .flatten();
    let can_pay = method.is_some()
        && !title.trim().is_empty()
        && api::validate::social_credit_code(&taxpayer).is_ok();
    html! {
        <section class="card" id="order">
            <h2>{ ctx.t("order_title") }</h2>
            { bar }
            <dl class="cert">
                <dt>{ ctx.t("order_number") }</dt><dd id="order-number" class="mono">{ &order.number }</dd>
                <dt>{ ctx.t("subject") }</dt><dd>{ &order.subject }</dd>
                <dt>{ ctx.t("applied_at") }</dt><dd>{ date(order.applied_at) }</dd>
                <dt>{ ctx.t("fee_excl") }</dt><dd id="order-fee">{ api::yuan(order.fee_fen) }</dd>
                <dt>{ ctx.t("new_valid_to") }</dt><dd id="order-new-not-after">{ date(order.new_not_after) }</dd>
                <dt>{ ctx.t("operator") }</dt><dd>{ &order.operator_name }</dd>
                if !order.remarks.is_empty() { <dt>{ ctx.t("remarks") }</dt><dd>{ &order.remarks }</dd> }
            </dl>
            { match order.status {
                OrderStatus::AwaitingPayment => match &order.payment {
                    Some(p) => html! {
                        <div class="pay" id="cashier">
                            // Kiosks pay by phone only: a link would lead out of the flow. A WeChat
                            // code opens only in the phone's WeChat: no page to link to.
                            if !p.qr_payload.is_empty() {
                                <p class="scan" id="scan-to-pay">{ ctx.t(match p.method {
                                    api::PaymentMethod::AlipayQr | api::PaymentMethod::AlipayPage => "scan_alipay",
                                    api::PaymentMethod::WechatNative => "scan_wechat",
                                }) }</p>
                                <crate::components::qr::Qr payload={p.qr_payload.clone()} />
                            }
                            if !kiosk && !p.cashier_url.is_empty() {
                                <a id="cashier-link" class="button primary" href={p.cashier_url.clone()} target="_blank" rel="noopener">{ ctx.t("to_cashier") }</a>
                            }
                            <p class="note mono" id="qr-payload">{ &p.qr_payload }</p>
                            <p class="note" id="waiting-payment">{ ctx.t("waiting_payment") }</p>
                        </div>
                    },
                    None if *paying => html! {
                        <div class="pay" id="payment-form">
                            <h3>{ ctx.t("pay_method") }</h3>
                            if methods.is_empty() {
                                <p class="notice" id="no-payment-methods">{ ctx.t("no_payment_methods") }</p>
                            }
                            { for methods.iter().map(|m| {
                                let key = crate::i18n::payment_method_key(*m);
                                let on = method == Some(*m);
                                let (state, m) = (chosen.clone(), *m);
                                html! {
                                    <label class="check"><input type="radio" name="method" id={format!("method-{key}")} checked={on}
                                        onchange={Callback::from(move |_| state.set(Some(m)))} />{ ctx.t(key) }</label>
                                }
                            }) }
                            <label class="field"><span>{ ctx.t("invoice_title") }<b class="req">{"*"}</b></span>
                                <input id="invoice-title" value={(*title).clone()} oninput={let s = title.clone(); Callback::from(move |e: InputEvent| s.set(input_value(&e)))} /></label>
                            <label class={classes!("field", taxpayer_error.map(|_| "invalid"))}><span>{ ctx.t("taxpayer_id") }<b class="req">{"*"}</b></span>
                                <input id="taxpayer-id" value={(*taxpayer).clone()} oninput={let s = taxpayer.clone(); Callback::from(move |e: InputEvent| s.set(input_value(&e)))} />
                                if let Some(i) = taxpayer_error { <small class="error">{ ctx.t(crate::components::form::invalid_key(i)) }</small> }
                            </label>
                            <p class="notice">{ ctx.t("invoice_warning") }</p>
                            <div class="actions"><button id="payment-submit" class="primary" disabled={!can_pay} onclick={pay}>{ ctx.t("submit") }</button></div>
                        </div>
                    },
                    None => html! {
                        <div>
                            <p id="submitted">{ ctx.t("submitted") }</p>
                            <div class="actions">
                                <button id="cancel" onclick={cancel}>{ ctx.t("cancel") }</button>
                                <button id="pay-now" class="primary" onclick={let p = paying.clone(); Callback::from(move |_| p.set(true))}>{ ctx.t("pay_now") }</button>
                            </div>
                        </div>
                    },
                },
                OrderStatus::Paid | OrderStatus::UnderReview => html! {
                    <div>
                        <p class="notice" id="under-review">{ ctx.t("under_review") }</p>
                        <crate::components::done::PrintReceipt />
                    </div>
                },
                OrderStatus::Approved | OrderStatus::Issued => html! {
                    <div id="install">
                        <p>{ ctx.t("pin_title") }</p>
                        <input id="install-pin" type="password" inputmode="numeric" autocomplete="off" maxlength="8" value={(*pin).clone()}
                            oninput={let s = pin.clone(); Callback::from(move |e: InputEvent| s.set(input_value(&e)))} readonly={kiosk} />
                        if kiosk {
                            <crate::components::pinpad::PinPad id="install-pad" value={(*pin).clone()} on_change={let p = pin.clone(); Callback::from(move |v| p.set(v))} />
                        }
                        <div class="actions"><button id="install-button" class="primary" disabled={pin.len() < 6 || ctx.flow.progress.is_some()} onclick={install}>{ ctx.t("install") }</button></div>
                    </div>
                },
                OrderStatus::Cancelled | OrderStatus::PaymentExpired => html! {
                    <div><p id="closed">{ ctx.t("cancelled") }</p><button onclick={restart}>{ ctx.t("back") }</button></div>
                },
                OrderStatus::Rejected | OrderStatus::Refunding | OrderStatus::Refunded => html! {
                    <div><p id="rejected">{ ctx.t("rejected") }</p><button onclick={restart}>{ ctx.t("back") }</button></div>
                },
                OrderStatus::Installed => html! {},
            } }
        </section>
    }
}

/// Install (W10), as `renewal::install` runs it: CSR on the token → certificate from the CA →
/// written, read back and checked on the token → confirmed with a signature by its key.
async fn install(ctx: AppCtx, entered: String) {
    let (
        Some(Placed {
            order,
            token: order_token,
        }),
        Some(token),
    ) = (ctx.flow.placed().cloned(), (*ctx.token).clone())
    else {
        return;
    };
    let Some((old_der, _)) = ctx.flow.certificate.clone() else {
        return;
    };
    let Ok(pin) = Pin::new(entered.as_bytes()) else {
        return ctx.fail("pin_wrong");
    };
    let now = (js_sys::Date::now() / 1000.0) as i64;
    let progress = |step| {
        ctx.dispatch(Action::Progress(Some(match step {
            renewal::Step::Csr => "installing_csr",
            renewal::Step::Issue => "installing_issue",
            renewal::Step::Write => "installing_write",
            renewal::Step::Confirm => "installing_confirm",
        })))
    };
    let api = crate::api_client::Fetch;
    match renewal::install(
        &token,
        &api,
        &order,
        &order_token,
        &old_der,
        &pin,
        now,
        progress,
    )
    .await
    {
        Ok(done) => {
            saved_order::clear();
            ctx.dispatch(Action::Certificate(Some((done.certificate, done.summary))));
            ctx.dispatch(Action::Progress(None));
            ctx.dispatch(Action::Order {
                order: done.order,
                token: None,
            });
        }
        Err(e) => ctx.fail(e),
    }
}
