//! A `USBDevice` stand-in backed by the virtual token (browser only), for the demo mode and for
//! tests: the page's own WebUSB + CCID code runs against it exactly as against a real token.
//! It can be "pulled out" and "put back", and can pretend to be a protected smart-card class
//! device whose interface the browser refuses to claim.

use crate::VirtualReader;
use ccid::Transport;
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// USB interface class the stand-in reports.
pub const CLASS_SMART_CARD: u8 = 0x0B;
pub const CLASS_VENDOR: u8 = 0xFF;

/// The shared state of a stand-in device: the reader, and whether it is plugged in.
pub struct StandIn {
    pub reader: Rc<RefCell<VirtualReader>>,
    pub plugged: Rc<Cell<bool>>,
    pub class: u8,
}

fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &k.into(), v);
}

fn endpoint(number: u8, direction: &str, kind: &str) -> JsValue {
    let e = Object::new();
    set(&e, "endpointNumber", &number.into());
    set(&e, "direction", &direction.into());
    set(&e, "type", &kind.into());
    e.into()
}

fn dom_error(name: &str, message: &str) -> JsValue {
    web_sys::DomException::new_with_message_and_name(message, name)
        .map(JsValue::from)
        .unwrap_or_else(|_| JsValue::from_str(message))
}

fn transfer_ok(data: Option<&[u8]>) -> Promise {
    let r = Object::new();
    set(&r, "status", &"ok".into());
    if let Some(d) = data {
        set(
            &r,
            "data",
            &js_sys::DataView::new(&Uint8Array::from(d).buffer(), 0, d.len()),
        );
    }
    Promise::resolve(&JsValue::from(r))
}

/// The virtual reader never waits, so its futures finish on the first poll.
fn now<F: std::future::Future>(f: F) -> Option<F::Output> {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

impl StandIn {
    pub fn new(reader: VirtualReader, class: u8) -> Self {
        Self {
            reader: Rc::new(RefCell::new(reader)),
            plugged: Rc::new(Cell::new(true)),
            class,
        }
    }

    /// A fresh `USBDevice`-like object (what `requestDevice` resolves to). Its closures live as
    /// long as the page: a device object is made once per connection.
    pub fn device(&self) -> web_sys::UsbDevice {
        let dev = Object::new();
        let alt = Object::new();
        set(&alt, "interfaceClass", &self.class.into());
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
        set(&dev, "vendorId", &0x1209u16.into());
        set(&dev, "productId", &0x0001u16.into());
        set(&dev, "productName", &"certrenew virtual token".into());

        let plugged = self.plugged.clone();
        let open = Closure::<dyn Fn() -> Promise>::new(move || {
            if plugged.get() {
                Promise::resolve(&JsValue::UNDEFINED)
            } else {
                Promise::reject(&dom_error("NotFoundError", "The device was disconnected."))
            }
        });
        set(&dev, "open", open.as_ref());
        open.forget();

        let class = self.class;
        let claim = Closure::<dyn Fn(u8) -> Promise>::new(move |_i: u8| {
            if class == CLASS_SMART_CARD {
                // What Chromium does for a protected interface class on an ordinary page.
                Promise::reject(&dom_error(
                    "SecurityError",
                    "The requested interface implements a protected class.",
                ))
            } else {
                Promise::resolve(&JsValue::UNDEFINED)
            }
        });
        set(&dev, "claimInterface", claim.as_ref());
        claim.forget();

        let desc = self.reader.borrow().descriptor().encode();
        let control_in =
            Closure::<dyn Fn(JsValue, u16) -> Promise>::new(move |_setup: JsValue, _len: u16| {
                // Configuration descriptor: configuration, interface (class), CCID class descriptor.
                let mut config = vec![9, 2, 0, 0, 1, 1, 0, 0x80, 50, 9, 4, 0, 0, 3, class, 0, 0, 0];
                config.extend_from_slice(&desc);
                let total = (config.len() as u16).to_le_bytes();
                config[2] = total[0];
                config[3] = total[1];
                transfer_ok(Some(&config))
            });
        set(&dev, "controlTransferIn", control_in.as_ref());
        control_in.forget();

        let plugged = self.plugged.clone();
        let control_out = Closure::<dyn Fn(JsValue) -> Promise>::new(move |_setup: JsValue| {
            if plugged.get() {
                transfer_ok(None)
            } else {
                Promise::reject(&dom_error("NetworkError", "The device was disconnected."))
            }
        });
        set(&dev, "controlTransferOut", control_out.as_ref());
        control_out.forget();

        let (reader, plugged) = (self.reader.clone(), self.plugged.clone());
        let out =
            Closure::<dyn Fn(u8, Uint8Array) -> Promise>::new(move |_ep: u8, data: Uint8Array| {
                if !plugged.get() {
                    return Promise::reject(&dom_error(
                        "NetworkError",
                        "The device was disconnected.",
                    ));
                }
                // Copied at once: the caller's buffer may be WASM memory that moves.
                let bytes = data.to_vec();
                let _ = now(reader.borrow_mut().send(&bytes));
                transfer_ok(None)
            });
        set(&dev, "transferOut", out.as_ref());
        out.forget();

        let (reader, plugged) = (self.reader.clone(), self.plugged.clone());
        let inp = Closure::<dyn Fn(u8, u32) -> Promise>::new(move |ep: u8, len: u32| {
            if !plugged.get() {
                return Promise::reject(&dom_error("NetworkError", "The device was disconnected."));
            }
            let mut r = reader.borrow_mut();
            let got = if ep == 3 {
                now(r.recv_interrupt())
            } else {
                now(r.recv(len as usize))
            };
            match got {
                Some(Ok(d)) => transfer_ok(Some(&d)),
                _ => Promise::reject(&dom_error("NetworkError", "A transfer error has occurred.")),
            }
        });
        set(&dev, "transferIn", inp.as_ref());
        inp.forget();

        dev.unchecked_into()
    }

    /// Pulls the token out: transfers fail as on a real unplug, the card loses its session.
    pub fn unplug(&self) {
        self.plugged.set(false);
        self.reader.borrow_mut().remove_card();
    }

    pub fn plug(&self) {
        self.reader.borrow_mut().insert_card();
        self.plugged.set(true);
    }
}
