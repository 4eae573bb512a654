//! In headless Chromium: the PIV client over the CCID reader against the virtual token compiled to
//! WASM, and the WebUSB transport against a `navigator.usb`-style device backed by that token.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)]

use ccid::keys::ManagementKey;
use ccid::piv::{Algorithm, Pin, PinState, Piv, Slot};
use ccid::CcidReader;
use token::usb_standin::StandIn;
use token::{PivApplet, VirtualReader};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn exercise<C: ccid::Card>(piv: &mut Piv<C>) {
    piv.select().await.unwrap();
    assert_eq!(piv.pin_state().await.unwrap(), PinState::TriesLeft(3));
    piv.authenticate(&ManagementKey::default_tdes())
        .await
        .unwrap();
    let public = piv
        .generate(Slot::Authentication, Algorithm::EccP256)
        .await
        .unwrap();
    piv.verify_pin(&Pin::new(b"123456").unwrap()).await.unwrap();
    let sig = piv
        .sign_sha256(Slot::Authentication, Algorithm::EccP256, b"in the browser")
        .await
        .unwrap();
    assert!(public.verify_sha256(b"in the browser", &sig));
    let blob = vec![0x30; 2000];
    piv.write_certificate(Slot::Authentication, &blob)
        .await
        .unwrap();
    assert_eq!(
        piv.read_certificate(Slot::Authentication).await.unwrap(),
        Some(blob)
    );
}

#[wasm_bindgen_test]
async fn piv_over_ccid_against_the_wasm_token() {
    let r = VirtualReader::new(PivApplet::new());
    let desc = r.descriptor().clone();
    let mut piv = Piv::new(CcidReader::new(r, desc).unwrap());
    exercise(&mut piv).await;
}

#[wasm_bindgen_test]
async fn webusb_transport_against_a_vendor_class_token() {
    let standin = StandIn::new(
        VirtualReader::new(PivApplet::new()),
        token::usb_standin::CLASS_VENDOR,
    );
    let reader = standin.reader.clone();
    let (usb, desc) = ccid::webusb::WebUsb::open(standin.device()).await.unwrap();
    assert_eq!(desc.max_message_len, 3072);
    let mut piv = Piv::new(CcidReader::new(usb, desc).unwrap());
    exercise(&mut piv).await;
    assert!(reader.borrow().applet.stats().apdus >= 8);
}

#[wasm_bindgen_test]
async fn webusb_protected_class_is_reported_as_such() {
    let standin = StandIn::new(
        VirtualReader::new(PivApplet::new()),
        token::usb_standin::CLASS_SMART_CARD,
    );
    let err = ccid::webusb::WebUsb::open(standin.device())
        .await
        .err()
        .unwrap();
    assert_eq!(err, ccid::TransportError::ProtectedClass);
}

#[wasm_bindgen_test]
async fn unplugging_mid_session_is_reported_as_removal() {
    let standin = StandIn::new(
        VirtualReader::new(PivApplet::new()),
        token::usb_standin::CLASS_VENDOR,
    );
    let (usb, desc) = ccid::webusb::WebUsb::open(standin.device()).await.unwrap();
    let mut piv = Piv::new(CcidReader::new(usb, desc).unwrap());
    piv.select().await.unwrap();
    standin.unplug();
    assert_eq!(
        piv.select().await,
        Err(ccid::piv::PivError::Card(ccid::CardError::Transport(
            ccid::TransportError::Disconnected
        )))
    );
    standin.plug();
    // A reconnect (new device object, as the browser hands out after re-plugging) works again.
    let (usb, desc) = ccid::webusb::WebUsb::open(standin.device()).await.unwrap();
    let mut piv = Piv::new(CcidReader::new(usb, desc).unwrap());
    piv.select().await.unwrap();
}
