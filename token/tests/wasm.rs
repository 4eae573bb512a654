//! In headless Chromium: the PIV client over the CCID reader against the virtual token compiled to
//! WASM, and the WebUSB transport against a `navigator.usb`-style device backed by that token.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)]

use ccid::keys::ManagementKey;
use ccid::piv::{Algorithm, Pin, PinState, Piv, Slot};
use ccid::CcidReader;
use ccid::Transport;
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use token::{PivApplet, VirtualReader};
use wasm_bindgen::prelude::*;
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

fn set(o: &Object, k: &str, v: &JsValue) {
    Reflect::set(o, &k.into(), v).unwrap();
}

fn endpoint(number: u8, direction: &str, kind: &str) -> JsValue {
    let e = Object::new();
    set(&e, "endpointNumber", &number.into());
    set(&e, "direction", &direction.into());
    set(&e, "type", &kind.into());
    e.into()
}

/// A USBDevice look-alike: what a page's `navigator.usb` stand-in hands out in demo mode.
fn fake_device(reader: Rc<RefCell<VirtualReader>>, class: u8) -> web_sys::UsbDevice {
    let dev = Object::new();
    let alt = Object::new();
    set(&alt, "interfaceClass", &class.into());
    set(
        &alt,
        "endpoints",
        &Array::of3(
            &endpoint(1, "out", "bulk"),
            &endpoint(2, "in", "bulk"),
            &endpoint(3, "in", "interrupt"),
        ),
    );
    let iface = Object::new();
    set(&iface, "interfaceNumber", &0.into());
    set(&iface, "alternate", &alt);
    let config = Object::new();
    set(&config, "interfaces", &Array::of1(&iface));
    set(&dev, "configuration", &config);
    set(&dev, "opened", &false.into());
    let ok = |data: Option<Vec<u8>>| {
        let r = Object::new();
        set(&r, "status", &"ok".into());
        if let Some(d) = data {
            set(
                &r,
                "data",
                &js_sys::DataView::new(&Uint8Array::from(&d[..]).buffer(), 0, d.len()),
            );
        }
        Promise::resolve(&JsValue::from(r))
    };
    let open = Closure::<dyn Fn() -> Promise>::new(|| Promise::resolve(&JsValue::UNDEFINED));
    set(&dev, "open", open.as_ref());
    open.forget();
    let claim = Closure::<dyn Fn(u8) -> Promise>::new(move |_i: u8| {
        if class == 0x0B {
            let e = web_sys::DomException::new_with_message_and_name(
                "Unable to claim interface.",
                "SecurityError",
            )
            .unwrap();
            Promise::reject(&e)
        } else {
            Promise::resolve(&JsValue::UNDEFINED)
        }
    });
    set(&dev, "claimInterface", claim.as_ref());
    claim.forget();
    let desc = reader.borrow().descriptor().encode();
    let control_in =
        Closure::<dyn Fn(JsValue, u16) -> Promise>::new(move |_setup: JsValue, _len: u16| {
            let mut config = vec![9, 2, 0, 0, 1, 1, 0, 0x80, 50, 9, 4, 0, 0, 3, class, 0, 0, 0];
            config.extend_from_slice(&desc);
            ok(Some(config))
        });
    set(&dev, "controlTransferIn", control_in.as_ref());
    control_in.forget();
    let r = reader.clone();
    let out =
        Closure::<dyn Fn(u8, Uint8Array) -> Promise>::new(move |_ep: u8, data: Uint8Array| {
            let bytes = data.to_vec();
            pollster_free(r.borrow_mut().send(&bytes)).unwrap();
            ok(None)
        });
    set(&dev, "transferOut", out.as_ref());
    out.forget();
    let r = reader.clone();
    let inp = Closure::<dyn Fn(u8, u32) -> Promise>::new(move |ep: u8, len: u32| {
        let mut reader = r.borrow_mut();
        let got = if ep == 3 {
            pollster_free(reader.recv_interrupt())
        } else {
            pollster_free(reader.recv(len as usize))
        };
        match got {
            Ok(d) => ok(Some(d)),
            Err(_) => Promise::reject(
                &web_sys::DomException::new_with_message_and_name("transfer error", "NetworkError")
                    .unwrap(),
            ),
        }
    });
    set(&dev, "transferIn", inp.as_ref());
    inp.forget();
    dev.unchecked_into()
}

/// The virtual reader's futures never wait; poll once.
fn pollster_free<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the virtual reader never waits"),
    }
}

#[wasm_bindgen_test]
async fn webusb_transport_against_a_vendor_class_token() {
    let reader = Rc::new(RefCell::new(VirtualReader::new(PivApplet::new())));
    let (usb, desc) = ccid::webusb::WebUsb::open(fake_device(reader.clone(), 0xFF))
        .await
        .unwrap();
    assert_eq!(desc.max_message_len, 3072);
    let mut piv = Piv::new(CcidReader::new(usb, desc).unwrap());
    exercise(&mut piv).await;
    assert!(reader.borrow().applet.stats().apdus >= 8);
}

#[wasm_bindgen_test]
async fn webusb_protected_class_is_reported_as_such() {
    let reader = Rc::new(RefCell::new(VirtualReader::new(PivApplet::new())));
    let err = ccid::webusb::WebUsb::open(fake_device(reader, 0x0B))
        .await
        .err()
        .unwrap();
    assert_eq!(err, ccid::TransportError::ProtectedClass);
}
