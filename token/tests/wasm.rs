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

// Web Smart Card API transport against the `navigator.smartCard` stand-in. Debian's Chromium 156
// lists the SmartCardEmulation DevTools domain but has no handler for it on Linux
// (`SmartCardEmulation.enable` is "not found"), and the real `navigator.smartCard` exists only in
// Isolated Web Apps, so this is how the transport is exercised in a real browser here.
mod smart_card {
    use super::*;
    use ccid::smartcard::{ResourceManager, SmartCardContext};
    use ccid::CardError;
    use token::smartcard_standin::{SmartCardStandIn, READER_NAME};
    use wasm_bindgen::JsCast;

    async fn context(standin: &SmartCardStandIn) -> SmartCardContext {
        let manager: ResourceManager = standin.manager().unchecked_into();
        SmartCardContext::establish(&manager).await.unwrap()
    }

    #[wasm_bindgen_test]
    async fn piv_over_the_web_smart_card_api() {
        let standin = SmartCardStandIn::new(PivApplet::new());
        let ctx = context(&standin).await;
        assert_eq!(ctx.readers().await.unwrap(), vec![READER_NAME.to_owned()]);
        let card = ctx.connect_first().await.unwrap();
        assert_eq!(
            (card.reader.as_str(), card.protocol.as_str()),
            (READER_NAME, "t1")
        );
        let mut piv = Piv::new(card);
        exercise(&mut piv).await;
        // Short APDUs only over PC/SC: the 2000-byte certificate went in chained commands.
        assert!(standin.applet.borrow().stats().apdus >= 16);
    }

    #[wasm_bindgen_test]
    async fn removal_and_insertion_are_seen_and_the_card_comes_back() {
        let standin = SmartCardStandIn::new(PivApplet::new());
        let ctx = context(&standin).await;
        let before = ctx.states().await.unwrap();
        assert!(before[0].present);
        let mut piv = Piv::new(ctx.connect_first().await.unwrap());
        piv.select().await.unwrap();

        // Nothing happens: the watch times out and reports the same state.
        assert_eq!(ctx.status_change(&before, 20).await.unwrap(), before);

        standin.unplug();
        let gone = ctx.status_change(&before, 1000).await.unwrap();
        assert!(!gone[0].present);
        assert_ne!(gone[0].count, before[0].count);
        assert_eq!(
            piv.select().await,
            Err(ccid::piv::PivError::Card(CardError::Removed))
        );
        assert_eq!(ctx.connect_first().await.err(), Some(CardError::NoCard));

        // A watch already waiting wakes up when the card goes back in.
        let watch = ctx.status_change(&gone, 5000);
        standin.plug();
        let back = watch.await.unwrap();
        assert!(back[0].present);
        // The old handle stays dead (as in PC/SC); a new connection works.
        assert_eq!(
            piv.select().await,
            Err(ccid::piv::PivError::Card(CardError::Removed))
        );
        let mut piv = Piv::new(ctx.connect_first().await.unwrap());
        piv.select().await.unwrap();
    }

    #[wasm_bindgen_test]
    async fn an_unknown_reader_is_a_disconnected_device() {
        let standin = SmartCardStandIn::new(PivApplet::new());
        let ctx = context(&standin).await;
        assert_eq!(
            ctx.connect("No Such Reader").await.err(),
            Some(CardError::Transport(ccid::TransportError::Disconnected))
        );
    }
}
