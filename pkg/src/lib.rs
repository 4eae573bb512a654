//! The token bridge as an npm package (wasm-bindgen, `--target web`): find a PIV token through
//! WebUSB (our CCID reader code) or the Web Smart Card API, read its certificates, and summarize
//! one. Nothing else: PIN and signing stay in the app that owns the flow.
#![cfg(target_arch = "wasm32")]

use ccid::browser::BrowserCard;
use ccid::piv::{Piv, Slot};
use ccid::smartcard::{ResourceManager, SmartCardContext};
use ccid::webusb::WebUsb;
use ccid::CcidReader;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

fn js_err(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

/// A connected token.
#[wasm_bindgen]
pub struct Token {
    conn: Rc<RefCell<Option<BrowserCard>>>,
    transport: &'static str,
}

#[wasm_bindgen]
impl Token {
    /// Opens a `USBDevice` (from `navigator.usb.requestDevice`) that has a CCID interface.
    #[wasm_bindgen(js_name = fromUsbDevice)]
    pub async fn from_usb_device(device: web_sys::UsbDevice) -> Result<Token, JsValue> {
        let (usb, desc) = WebUsb::open(device).await.map_err(js_err)?;
        let reader = CcidReader::new(usb, desc).map_err(js_err)?;
        Ok(Token {
            conn: Rc::new(RefCell::new(Some(BrowserCard::Usb(reader)))),
            transport: "webusb",
        })
    }

    /// Asks the user for a token (smart-card or vendor-class USB interface) and opens it.
    #[wasm_bindgen(js_name = requestUsb)]
    pub async fn request_usb() -> Result<Token, JsValue> {
        let usb = web_sys::window()
            .map(|w| w.navigator().usb())
            .ok_or_else(|| js_err("no WebUSB in this browser"))?;
        let filters: Vec<web_sys::UsbDeviceFilter> = [0x0Bu8, 0xFF]
            .into_iter()
            .map(|class| {
                let f = web_sys::UsbDeviceFilter::new();
                f.set_class_code(class);
                f
            })
            .collect();
        let device = wasm_bindgen_futures::JsFuture::from(
            usb.request_device(&web_sys::UsbDeviceRequestOptions::new(&filters)),
        )
        .await?;
        Self::from_usb_device(device.unchecked_into()).await
    }

    /// Connects to the first card through the Web Smart Card API: pass `navigator.smartCard`
    /// (Isolated Web Apps) or an object of the same shape.
    #[wasm_bindgen(js_name = fromSmartCard)]
    pub async fn from_smart_card(manager: JsValue) -> Result<Token, JsValue> {
        let manager: ResourceManager = manager.unchecked_into();
        let ctx = SmartCardContext::establish(&manager)
            .await
            .map_err(js_err)?;
        let card = ctx.connect_first().await.map_err(js_err)?;
        Ok(Token {
            conn: Rc::new(RefCell::new(Some(BrowserCard::SmartCard(card)))),
            transport: "smartcard",
        })
    }

    /// "webusb" or "smartcard".
    #[wasm_bindgen(getter)]
    pub fn transport(&self) -> String {
        self.transport.into()
    }

    /// The certificate in a PIV slot (0x9A, 0x9C, 0x9D, 0x9E) as DER, or `undefined` if empty.
    #[wasm_bindgen(js_name = readCertificate)]
    pub fn read_certificate(&self, slot: u8) -> js_sys::Promise {
        let conn = self.conn.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let slot = match slot {
                0x9A => Slot::Authentication,
                0x9C => Slot::Signature,
                0x9D => Slot::KeyManagement,
                0x9E => Slot::CardAuthentication,
                other => return Err(js_err(format!("not a PIV certificate slot: {other:#04X}"))),
            };
            // Taken out for the duration: a second call at the same time fails cleanly.
            let mut c = conn
                .borrow_mut()
                .take()
                .ok_or_else(|| js_err("the token is busy"))?;
            let result = async {
                let mut piv = Piv::new(&mut c);
                piv.select().await?;
                piv.read_certificate(slot).await
            }
            .await;
            *conn.borrow_mut() = Some(c);
            match result.map_err(js_err)? {
                Some(der) => Ok(js_sys::Uint8Array::from(&der[..]).into()),
                None => Ok(JsValue::UNDEFINED),
            }
        })
    }
}

/// What a certificate says, for showing: subject, issuer, serial, validity (Unix seconds), days
/// left, expired.
#[wasm_bindgen(js_name = summarizeCertificate)]
pub fn summarize_certificate(der: &[u8]) -> Result<JsValue, JsValue> {
    let now = (js_sys::Date::now() / 1000.0) as i64;
    let s = ccid::cert::summarize(der, now).map_err(js_err)?;
    let o = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&o, &k.into(), &v);
    };
    set("subject", s.subject.into());
    set(
        "commonName",
        s.common_name.map(JsValue::from).unwrap_or(JsValue::NULL),
    );
    set("issuer", s.issuer.into());
    set("serial", s.serial.into());
    set("notBefore", (s.not_before as f64).into());
    set("notAfter", (s.not_after as f64).into());
    set("daysLeft", (s.days_left as f64).into());
    set("expired", s.expired.into());
    Ok(o.into())
}

/// A virtual token (P-256 key and a self-signed certificate for `common_name` in slot 9A)
/// behind a `USBDevice` stand-in: for the example page and tests, no hardware needed.
#[cfg(feature = "demo")]
#[wasm_bindgen(js_name = demoUsbDevice)]
pub fn demo_usb_device(common_name: &str) -> Result<web_sys::UsbDevice, JsValue> {
    use ccid::piv::Algorithm;
    use sha2::Digest;
    use std::str::FromStr;
    use token::keys::PrivateKey;
    let key = PrivateKey::generate(Algorithm::EccP256).ok_or_else(|| js_err("key generation"))?;
    let name = x509_cert::name::Name::from_str(&format!("CN={common_name}")).map_err(js_err)?;
    let now = (js_sys::Date::now() / 1000.0) as i64;
    let public = key.public_key();
    let der = ccid::cert::issue(
        ccid::cert::Issue {
            serial: &[0x01, 0x02, 0x03, 0x04],
            subject: &name,
            issuer: &name,
            not_before: now - 60,
            not_after: now + 365 * 86_400,
            public_key: &public,
            extensions: Vec::new(),
        },
        Algorithm::EccP256,
        |tbs| {
            key.sign_raw(&sha2::Sha256::digest(tbs))
                .ok_or_else(|| "signing failed".to_string())
        },
    )
    .map_err(js_err)?;
    let mut applet = token::PivApplet::new();
    applet.install_key(Slot::Authentication, key);
    applet.install_certificate(Slot::Authentication, &der);
    let standin = token::usb_standin::StandIn::new(
        token::VirtualReader::new(applet),
        token::usb_standin::CLASS_VENDOR,
    );
    Ok(standin.device())
}
