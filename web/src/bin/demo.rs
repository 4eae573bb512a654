//! The demo token as its own small WebAssembly module, loaded only when someone presses "try with
//! a demo token": real users never download the virtual token's keys, signing and applet code.
//! It hands the app a `USBDevice` or `navigator.smartCard` look-alike; the app then reaches it
//! through exactly the same WebUSB + CCID (or Web Smart Card) code as a real token.

#[cfg(target_arch = "wasm32")]
mod demo {
    use base64::Engine;
    use ccid::piv::{Algorithm, Slot};
    use std::rc::Rc;
    use token::smartcard_standin::SmartCardStandIn;
    use token::usb_standin::{StandIn, CLASS_VENDOR};
    use token::{PivApplet, VirtualReader};
    use wasm_bindgen::prelude::*;

    /// POSTs JSON and returns the JSON answer (`null` for an empty one); refusals are errors.
    async fn post(url: &str, body: &serde_json::Value) -> Result<serde_json::Value, JsValue> {
        use wasm_bindgen::JsCast;
        use wasm_bindgen_futures::JsFuture;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        let headers = web_sys::Headers::new()?;
        headers.set("content-type", "application/json")?;
        init.set_headers(&headers);
        init.set_body(&JsValue::from_str(&body.to_string()));
        let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
        let r: web_sys::Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
            .await?
            .dyn_into()?;
        let text = JsFuture::from(r.text()?)
            .await?
            .as_string()
            .unwrap_or_default();
        if !r.ok() {
            return Err(JsValue::from_str(&format!(
                "{url}: HTTP {} {text}",
                r.status()
            )));
        }
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    }

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

        fn with_applet(&self, f: impl FnOnce(&mut PivApplet)) {
            match &self.kind {
                Kind::Usb(s) => f(&mut s.reader.borrow_mut().applet),
                Kind::SmartCard(s) => f(&mut s.applet.borrow_mut()),
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

        /// Makes a fresh token look like one the CA issued: a P-256 key in 9A with a certificate
        /// from the demo server (`api` is the API base, e.g. `/api/v1`), and a management key of
        /// its own that only the server holds. Done here, not through the app's PIV code: it is
        /// setting up the demo, not part of what the demo shows.
        pub async fn provision(&self, api: String) -> Result<(), JsValue> {
            let key = token::keys::PrivateKey::generate(Algorithm::EccP256)
                .ok_or_else(|| JsValue::from_str("key generation failed"))?;
            let spki = key.public_key().to_spki_der()?;
            let b64 = base64::engine::general_purpose::STANDARD;
            let issued = post(
                &format!("{api}/demo/certificate"),
                &serde_json::json!({"public_key": b64.encode(&spki)}),
            )
            .await?;
            let cert_b64 = issued["certificate"]
                .as_str()
                .ok_or_else(|| JsValue::from_str("no certificate"))?
                .to_owned();
            let der = b64
                .decode(&cert_b64)
                .map_err(|e| JsValue::from_str(&e.to_string()))?;
            let mut secret = [0u8; 16];
            getrandom::fill(&mut secret).map_err(|e| JsValue::from_str(&e.to_string()))?;
            let mgmt = ccid::keys::ManagementKey::new(Algorithm::Aes128, &secret)?;
            self.with_applet(|a| {
                a.install_key(Slot::Authentication, key);
                a.install_certificate(Slot::Authentication, &der);
                a.set_management_key(mgmt);
            });
            post(
                &format!("{api}/demo/management-key"),
                &serde_json::json!({"certificate": cert_b64, "algorithm": Algorithm::Aes128 as u8, "key": b64.encode(secret)}),
            )
            .await?;
            secret.fill(0);
            Ok(())
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
