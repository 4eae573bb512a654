//! The demo token as its own small WebAssembly module, loaded only when someone presses "try with
//! a demo token": real users never download the virtual token's keys, signing and applet code.
//! It hands the app a `USBDevice` or `navigator.smartCard` look-alike; the app then reaches it
//! through exactly the same WebUSB + CCID (or Web Smart Card) code as a real token.

#[cfg(target_arch = "wasm32")]
mod demo {
    use std::rc::Rc;
    use token::smartcard_standin::SmartCardStandIn;
    use token::usb_standin::{StandIn, CLASS_VENDOR};
    use token::{PivApplet, VirtualReader};
    use wasm_bindgen::prelude::*;

    enum Kind {
        Usb(Rc<StandIn>),
        SmartCard(Rc<SmartCardStandIn>),
    }

    #[wasm_bindgen]
    pub struct DemoToken {
        kind: Kind,
        fresh: bool,
    }

    #[wasm_bindgen]
    impl DemoToken {
        /// A token restored from `saved` (what `save` returned), or a new empty one; behind a
        /// USB stand-in, or a smart-card stand-in when `transport` is "smartcard".
        #[wasm_bindgen(constructor)]
        pub fn new(saved: Option<Vec<u8>>, transport: &str) -> DemoToken {
            let restored = saved.as_deref().and_then(PivApplet::restore);
            let fresh = restored.is_none();
            let applet = restored.unwrap_or_default();
            let kind = if transport == "smartcard" {
                Kind::SmartCard(Rc::new(SmartCardStandIn::new(applet)))
            } else {
                Kind::Usb(Rc::new(StandIn::new(
                    VirtualReader::new(applet),
                    CLASS_VENDOR,
                )))
            };
            DemoToken { kind, fresh }
        }

        /// Whether the token is new (no key or certificate yet).
        #[wasm_bindgen(getter)]
        pub fn fresh(&self) -> bool {
            self.fresh
        }

        /// A fresh `USBDevice` look-alike, or the `navigator.smartCard` look-alike.
        pub fn device(&self) -> JsValue {
            match &self.kind {
                Kind::Usb(s) => s.device().into(),
                Kind::SmartCard(s) => s.manager(),
            }
        }

        #[wasm_bindgen(getter)]
        pub fn plugged(&self) -> bool {
            match &self.kind {
                Kind::Usb(s) => s.plugged.get(),
                Kind::SmartCard(_) => true,
            }
        }

        /// The token's state, to keep across reloads.
        pub fn save(&self) -> Vec<u8> {
            match &self.kind {
                Kind::Usb(s) => s.reader.borrow().applet.save().to_vec(),
                Kind::SmartCard(s) => s.applet.borrow().save().to_vec(),
            }
        }

        pub fn unplug(&self) {
            match &self.kind {
                Kind::Usb(s) => s.unplug(),
                Kind::SmartCard(s) => s.unplug(),
            }
        }

        pub fn plug(&self) {
            match &self.kind {
                Kind::Usb(s) => s.plug(),
                Kind::SmartCard(s) => s.plug(),
            }
        }
    }
}

fn main() {}
