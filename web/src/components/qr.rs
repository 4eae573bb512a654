//! The payment QR code, drawn as SVG from the cashier's payload (a phone scans it to pay).

use qrcodegen::{QrCode, QrCodeEcc};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub payload: AttrValue,
}

/// One SVG path of the dark modules, with the 4-module quiet zone ISO/IEC 18004 asks for.
pub fn svg_path(qr: &QrCode) -> String {
    let mut d = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                d.push_str(&format!("M{},{}h1v1h-1z", x + 4, y + 4));
            }
        }
    }
    d
}

#[component]
pub fn Qr(props: &Props) -> Html {
    // Medium error correction: survives a scuffed kiosk screen without growing the code much.
    let Ok(qr) = QrCode::encode_text(&props.payload, QrCodeEcc::Medium) else {
        return html! {};
    };
    let size = qr.size() + 8;
    html! {
        <svg id="qr" class="qr" viewBox={format!("0 0 {size} {size}")} role="img" data-payload={props.payload.clone()}
            shape-rendering="crispEdges" xmlns="http://www.w3.org/2000/svg">
            <rect width="100%" height="100%" fill="#fff" />
            <path d={svg_path(&qr)} fill="#000" />
        </svg>
    }
}
