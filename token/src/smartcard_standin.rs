//! A `navigator.smartCard` stand-in backed by the virtual token (browser only): one reader with
//! the PIV card in it, answering the way Chromium's Web Smart Card API does (promises, the
//! `SmartCardError` response codes, PC/SC event counters). Used by tests and the demo, because the
//! real API exists only in Isolated Web Apps on ChromeOS.

use crate::PivApplet;
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub const READER_NAME: &str = "certrenew Virtual Reader 00 00";

pub struct SmartCardStandIn {
    pub applet: Rc<RefCell<PivApplet>>,
    present: Rc<Cell<bool>>,
    /// PC/SC event counter: +1 on every insertion and removal.
    count: Rc<Cell<u32>>,
    /// Pending getStatusChange calls, woken on the next event.
    waiters: Rc<RefCell<Vec<Function>>>,
}

fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &k.into(), v);
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap_or_default()
}

/// What Chromium rejects with: a DOMException named SmartCardError carrying `responseCode`.
fn sc_error(code: &str) -> JsValue {
    let e: JsValue = web_sys::DomException::new_with_message_and_name(code, "SmartCardError")
        .map(JsValue::from)
        .unwrap_or_else(|_| JsValue::from_str(code));
    let _ = Reflect::define_property(e.unchecked_ref::<Object>(), &"responseCode".into(), &{
        let d = Object::new();
        set(&d, "value", &code.into());
        d
    });
    e
}

fn method<F: ?Sized + wasm_bindgen::closure::WasmClosure>(o: &Object, name: &str, c: Closure<F>) {
    set(o, name, c.as_ref());
    // The objects live as long as the page; so do their methods.
    c.forget();
}

impl SmartCardStandIn {
    pub fn new(applet: PivApplet) -> Self {
        Self {
            applet: Rc::new(RefCell::new(applet)),
            present: Rc::new(Cell::new(true)),
            count: Rc::new(Cell::new(0)),
            waiters: Rc::new(RefCell::new(Vec::new())),
        }
    }

    pub fn unplug(&self) {
        self.present.set(false);
        self.applet.borrow_mut().power_cycle();
        self.event();
    }

    pub fn plug(&self) {
        self.present.set(true);
        self.event();
    }

    fn event(&self) {
        self.count.set(self.count.get().wrapping_add(1));
        for wake in self.waiters.borrow_mut().drain(..) {
            let _ = wake.call0(&JsValue::NULL);
        }
    }

    /// The object to use where `navigator.smartCard` would be.
    pub fn manager(&self) -> JsValue {
        let manager = Object::new();
        let (applet, present, count, waiters) = (
            self.applet.clone(),
            self.present.clone(),
            self.count.clone(),
            self.waiters.clone(),
        );
        method(
            &manager,
            "establishContext",
            Closure::<dyn Fn() -> Promise>::new(move || {
                Promise::resolve(&context(
                    applet.clone(),
                    present.clone(),
                    count.clone(),
                    waiters.clone(),
                ))
            }),
        );
        manager.into()
    }
}

/// The reader states a getStatusChange call would return now, and whether any changed.
fn states_out(states: &Array, present: bool, count: u32) -> (Array, bool) {
    let out = Array::new();
    let mut changed_any = false;
    for s in states.iter() {
        let name = get(&s, "readerName").as_string().unwrap_or_default();
        let flags = get(&s, "currentState");
        let flag = |f: &str| get(&flags, f).as_bool().unwrap_or(false);
        let o = Object::new();
        set(&o, "readerName", &name.as_str().into());
        let ev = Object::new();
        if name != READER_NAME {
            set(&ev, "unknown", &true.into());
            set(&ev, "changed", &true.into());
            changed_any = true;
        } else {
            let seen = get(&s, "currentCount").as_f64().map(|c| c as u32);
            let changed =
                flag("unaware") || flag("present") != present || seen.is_some_and(|c| c != count);
            set(&ev, if present { "present" } else { "empty" }, &true.into());
            set(&ev, "changed", &changed.into());
            changed_any |= changed;
        }
        set(&o, "eventState", &ev);
        set(&o, "eventCount", &count.into());
        if present {
            set(
                &o,
                "answerToReset",
                &Uint8Array::from(&crate::ATR[..]).buffer(),
            );
        }
        out.push(&o);
    }
    (out, changed_any)
}

fn context(
    applet: Rc<RefCell<PivApplet>>,
    present: Rc<Cell<bool>>,
    count: Rc<Cell<u32>>,
    waiters: Rc<RefCell<Vec<Function>>>,
) -> JsValue {
    let ctx = Object::new();
    method(
        &ctx,
        "listReaders",
        Closure::<dyn Fn() -> Promise>::new(|| {
            Promise::resolve(&JsValue::from(Array::of1(&READER_NAME.into())))
        }),
    );

    let (p, c, w) = (present.clone(), count.clone(), waiters.clone());
    method(
        &ctx,
        "getStatusChange",
        Closure::<dyn Fn(Array, JsValue) -> Promise>::new(
            move |states: Array, options: JsValue| {
                let (out, changed) = states_out(&states, p.get(), c.get());
                if changed {
                    return Promise::resolve(&JsValue::from(out));
                }
                let timeout = get(&options, "timeout").as_f64();
                if timeout == Some(0.0) {
                    return Promise::reject(&sc_error("timeout"));
                }
                let (p, c, w) = (p.clone(), c.clone(), w.clone());
                Promise::new(&mut |resolve: Function, reject: Function| {
                    let (p, c, states) = (p.clone(), c.clone(), states.clone());
                    let resolve2 = resolve.clone();
                    let wake = Closure::once_into_js(move || {
                        let (out, _) = states_out(&states, p.get(), c.get());
                        let _ = resolve2.call1(&JsValue::NULL, &JsValue::from(out));
                    });
                    w.borrow_mut().push(wake.unchecked_into());
                    if let (Some(ms), Some(window)) = (timeout, web_sys::window()) {
                        let expire = Closure::once_into_js(move || {
                            let _ = reject.call1(&JsValue::NULL, &sc_error("timeout"));
                        });
                        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                            expire.unchecked_ref(),
                            ms as i32,
                        );
                    }
                })
            },
        ),
    );

    let (p, c) = (present, count);
    method(
        &ctx,
        "connect",
        Closure::<dyn Fn(String, String, JsValue) -> Promise>::new(
            move |reader: String, _mode: String, _options: JsValue| {
                if reader != READER_NAME {
                    return Promise::reject(&sc_error("unknown-reader"));
                }
                if !p.get() {
                    return Promise::reject(&sc_error("no-smartcard"));
                }
                let result = Object::new();
                set(
                    &result,
                    "connection",
                    &connection(applet.clone(), p.clone(), c.clone(), c.get()),
                );
                set(&result, "activeProtocol", &"t1".into());
                Promise::resolve(&JsValue::from(result))
            },
        ),
    );
    ctx.into()
}

/// A connection made while the event counter was `at`: after the card leaves, it stays dead
/// (PC/SC answers "removed-card" on an old handle even when the card is back).
fn connection(
    applet: Rc<RefCell<PivApplet>>,
    present: Rc<Cell<bool>>,
    count: Rc<Cell<u32>>,
    at: u32,
) -> JsValue {
    let conn = Object::new();
    let alive = {
        let (present, count) = (present.clone(), count.clone());
        move || present.get() && count.get() == at
    };
    let alive2 = alive.clone();
    method(
        &conn,
        "transmit",
        Closure::<dyn Fn(Uint8Array) -> Promise>::new(move |apdu: Uint8Array| {
            if !alive() {
                return Promise::reject(&sc_error("removed-card"));
            }
            // Copied at once: the caller's buffer may be WASM memory that moves.
            let response = applet.borrow_mut().process(&apdu.to_vec());
            Promise::resolve(&JsValue::from(Uint8Array::from(&response[..]).buffer()))
        }),
    );
    method(
        &conn,
        "disconnect",
        Closure::<dyn Fn(JsValue) -> Promise>::new(move |_d: JsValue| {
            if alive2() {
                Promise::resolve(&JsValue::UNDEFINED)
            } else {
                Promise::reject(&sc_error("removed-card"))
            }
        }),
    );
    conn.into()
}
