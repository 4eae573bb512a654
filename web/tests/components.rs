//! Component tests in headless Chromium (wasm-bindgen-test): the app renders, switches language,
//! maps validation reasons to messages, and the flow reducer guards the offline route.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)]

use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web::flow::{Action, Flow, Screen, Stage};
use web::i18n::{t, Lang};
use yew::Reducible;

wasm_bindgen_test_configure!(run_in_browser);

/// Yields to the browser until `cond` holds (bounded: the test fails instead of hanging).
async fn until(mut cond: impl FnMut() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        let p = js_sys::Promise::new(&mut |resolve, _| {
            web_sys::window()
                .unwrap()
                .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 5)
                .unwrap();
        });
        wasm_bindgen_futures::JsFuture::from(p).await.unwrap();
    }
    panic!("condition not met");
}

fn root() -> web_sys::Element {
    let doc = web_sys::window().unwrap().document().unwrap();
    let div = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&div).unwrap();
    div
}

fn text(root: &web_sys::Element, sel: &str) -> Option<String> {
    root.query_selector(sel)
        .ok()
        .flatten()
        .and_then(|e| e.text_content())
}

#[wasm_bindgen_test]
async fn the_app_starts_in_chinese_and_switches_to_english() {
    let div = root();
    yew::Renderer::<web::components::app::App>::with_root(div.clone()).render();
    until(|| text(&div, "#use-demo").is_some()).await;
    assert_eq!(text(&div, "#use-demo").unwrap(), t(Lang::Zh, "use_demo"));
    // The environment check tells whether WebUSB is there (it is, in Chromium on localhost).
    assert_eq!(
        text(&div, "#env-webusb").unwrap(),
        t(Lang::Zh, "env_webusb_ok")
    );
    div.query_selector("#lang-switch")
        .unwrap()
        .unwrap()
        .dyn_into::<web_sys::HtmlElement>()
        .unwrap()
        .click();
    until(|| text(&div, "#use-demo").as_deref() == Some(t(Lang::En, "use_demo"))).await;
    let html = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .document_element()
        .unwrap();
    assert_eq!(html.get_attribute("lang").as_deref(), Some("en"));
}

#[wasm_bindgen_test]
fn every_validation_reason_has_a_message_in_both_languages() {
    use api::validate::Invalid;
    for i in [
        Invalid::Required,
        Invalid::Format,
        Invalid::Checksum,
        Invalid::BirthDate,
        Invalid::Region,
        Invalid::TooLong,
    ] {
        let key = web::components::form::invalid_key(i);
        assert_ne!(t(Lang::Zh, key), "?", "{i:?}");
        assert_ne!(t(Lang::Zh, key), t(Lang::En, key));
    }
    // The form's own validation, run in the browser with the browser's date.
    let mut form = Flow::default().form;
    web::components::form::set_field(&mut form, "operator.id_number", "11010519491231002X".into());
    web::components::form::set_field(&mut form, "operator.mobile", "138".into());
    let errors = form.validate(web::components::form::today()).unwrap_err();
    assert!(!errors.iter().any(|(f, _)| f == "operator.id_number"));
    assert!(errors.contains(&("operator.mobile".into(), Invalid::Format)));
}

#[wasm_bindgen_test]
fn the_reducer_keeps_an_expired_certificate_on_the_offline_route() {
    let summary = ccid::cert::CertSummary {
        subject: "CN=张三".into(),
        common_name: None,
        issuer: "CN=CA".into(),
        serial: "01".into(),
        not_before: 0,
        not_after: 1,
        key: ccid::piv::Algorithm::EccP256,
        days_left: -3,
        expired: true,
        not_yet_valid: false,
    };
    let f = std::rc::Rc::new(Flow::default())
        .reduce(Action::Certificate(Some((vec![], summary))))
        .reduce(Action::Go(Screen::Pin));
    assert_eq!(f.stage, Stage::At(Screen::Token));
}

/// The browser's base64 (btoa/atob) the app uses agrees with the base64 crate on every byte
/// value and on lengths around the padding boundaries, and refuses what is not base64.
#[wasm_bindgen_test]
fn base64_through_the_browser_matches_rfc_4648() {
    use base64::Engine;
    let std = base64::engine::general_purpose::STANDARD;
    let all: Vec<u8> = (0..=255u8).collect();
    for len in [0, 1, 2, 3, 4, 5, 255, 256] {
        let bytes = &all.repeat(2)[..len];
        let ours = web::api_client::b64_encode(bytes);
        assert_eq!(ours, std.encode(bytes), "length {len}");
        assert_eq!(web::api_client::b64_decode(&ours).as_deref(), Some(bytes));
    }
    assert_eq!(web::api_client::b64_decode("not base64!"), None);
    assert_eq!(web::api_client::b64_decode("中文"), None);
}
