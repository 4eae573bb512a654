//! Done (W11, W12): the certificate with its new validity, and where the invoice goes.

use crate::components::token_view::TokenView;
use crate::ctx::use_app;
use yew::prelude::*;

#[component]
pub fn Done() -> Html {
    let ctx = use_app();
    let invoice = ctx.flow.placed().and_then(|p| p.order.invoice.clone());
    html! {
        <>
            <section class="card done" id="done">
                <h2>{ ctx.t("done_title") }</h2>
                if let Some(i) = invoice {
                    <p>{ ctx.t("invoice_number") }{ "：" }<span id="invoice-number" class="mono">{ i.number }</span>{ format!(" ¥{}", api::yuan(i.total_fen)) }</p>
                }
                <p>{ ctx.t("invoice_note") }</p>
                <p>{ ctx.t("contacts") }</p>
                <PrintReceipt />
            </section>
            <TokenView />
        </>
    }
}

/// Prints the page as a receipt (the print stylesheet keeps the order and certificate details).
#[component]
pub fn PrintReceipt() -> Html {
    let ctx = use_app();
    let print = Callback::from(|_| {
        if let Some(w) = web_sys::window() {
            let _ = w.print();
        }
    });
    html! {
        <div class="actions no-print"><button id="print-receipt" onclick={print}>{ ctx.t("print_receipt") }</button></div>
    }
}
