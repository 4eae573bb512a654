//! The token the app talks to, always through WebUSB and the CCID reader code: a real USB token,
//! or the demo token (the virtual token behind a `USBDevice` stand-in, kept in this browser).

use ccid::piv::{Algorithm, Piv, PivError, Slot};
use ccid::webusb::WebUsb;
use ccid::{CardError, CcidReader, TransportError};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use token::usb_standin::{StandIn, CLASS_VENDOR};
use token::{PivApplet, VirtualReader};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

const DEMO_KEY: &str = "certrenew.demo_token";

/// A connected token. Operations take the reader out for their duration, so two at once fail
/// cleanly (`Busy`) instead of interleaving APDUs. After a removal the next operation reconnects.
#[derive(Clone)]
pub struct TokenHandle {
    reader: Rc<RefCell<Option<CcidReader<WebUsb>>>>,
    standin: Option<Rc<StandIn>>,
    /// vendor/product of a real token, to find it again after it is re-plugged.
    ids: (u16, u16),
    lost: Rc<Cell<bool>>,
}

impl PartialEq for TokenHandle {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.reader, &other.reader)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum TokenError {
    Piv(PivError),
    Busy,
}

impl From<PivError> for TokenError {
    fn from(e: PivError) -> Self {
        TokenError::Piv(e)
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn removed(e: &PivError) -> bool {
    matches!(
        e,
        PivError::Card(
            CardError::Removed
                | CardError::NoCard
                | CardError::Transport(TransportError::Disconnected)
        )
    )
}

async fn open(device: web_sys::UsbDevice) -> Result<CcidReader<WebUsb>, TransportError> {
    let (transport, desc) = WebUsb::open(device).await?;
    CcidReader::new(transport, desc).map_err(|e| TransportError::Io(e.to_string()))
}

impl TokenHandle {
    pub fn is_demo(&self) -> bool {
        self.standin.is_some()
    }

    /// Runs `f` with the PIV application selected.
    pub async fn with<T>(
        &self,
        f: impl AsyncFnOnce(&mut Piv<&mut CcidReader<WebUsb>>) -> Result<T, PivError>,
    ) -> Result<T, TokenError> {
        if self.lost.get() {
            let fresh = self
                .reconnect()
                .await
                .map_err(|_| TokenError::Piv(PivError::Card(CardError::Removed)))?;
            *self.reader.borrow_mut() = Some(fresh);
            self.lost.set(false);
        }
        let mut reader = self.reader.borrow_mut().take().ok_or(TokenError::Busy)?;
        let result = {
            let mut piv = Piv::new(&mut reader);
            match piv.select().await {
                Ok(_) => f(&mut piv).await,
                Err(e) => Err(e),
            }
        };
        *self.reader.borrow_mut() = Some(reader);
        if let Err(e) = &result {
            self.lost.set(removed(e));
        }
        if let Some(s) = &self.standin {
            // The demo token lives in this browser: keep it across reloads.
            if let Some(st) = storage() {
                let _ = st.set_item(
                    DEMO_KEY,
                    &crate::api_client::b64_encode(&s.reader.borrow().applet.save()),
                );
            }
        }
        Ok(result?)
    }

    /// Finds the token again after it was pulled and re-inserted.
    async fn reconnect(&self) -> Result<CcidReader<WebUsb>, TransportError> {
        if let Some(s) = &self.standin {
            if !s.plugged.get() {
                return Err(TransportError::Disconnected);
            }
            return open(s.device()).await;
        }
        let usb = web_sys::window()
            .map(|w| w.navigator().usb())
            .ok_or(TransportError::Disconnected)?;
        let devices = usb
            .get_devices()
            .await
            .map_err(|_| TransportError::Disconnected)?;
        let device = devices
            .iter()
            .find(|d| (d.vendor_id(), d.product_id()) == self.ids)
            .ok_or(TransportError::Disconnected)?;
        open(device).await
    }

    /// The demo token kept in this browser, or a new one with a key and a certificate from the
    /// (demo-mode) server. It is reached through WebUSB like a real token.
    pub async fn demo() -> Result<Self, String> {
        let saved = storage().and_then(|s| s.get_item(DEMO_KEY).ok().flatten());
        let restored = saved
            .and_then(|b| crate::api_client::b64_decode(&b))
            .and_then(|b| PivApplet::restore(&b));
        let fresh = restored.is_none();
        let standin = Rc::new(StandIn::new(
            VirtualReader::new(restored.unwrap_or_default()),
            CLASS_VENDOR,
        ));
        let reader = open(standin.device()).await.map_err(|e| e.to_string())?;
        let handle = Self {
            reader: Rc::new(RefCell::new(Some(reader))),
            standin: Some(standin.clone()),
            ids: (0, 0),
            lost: Rc::new(Cell::new(false)),
        };
        expose_demo_controls(&standin);
        if !fresh {
            return Ok(handle);
        }
        let key = handle
            .with(async |piv| {
                piv.authenticate(&ccid::keys::ManagementKey::default_tdes())
                    .await?;
                piv.generate(Slot::Authentication, Algorithm::EccP256).await
            })
            .await
            .map_err(|e| format!("{e:?}"))?;
        let spki = key.to_spki_der()?;
        let r: api::IssueResponse = crate::api_client::post(
            "/demo/certificate",
            None,
            &serde_json::json!({"public_key": crate::api_client::b64_encode(&spki)}),
        )
        .await
        .map_err(|e| format!("{e:?}"))?;
        let der =
            crate::api_client::b64_decode(&r.certificate).ok_or("certificate is not base64")?;
        handle
            .with(async |piv| {
                piv.authenticate(&ccid::keys::ManagementKey::default_tdes())
                    .await?;
                piv.write_certificate(Slot::Authentication, &der).await
            })
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(handle)
    }

    /// Asks the browser for a USB token (smart-card or vendor class) and opens it.
    pub async fn usb() -> Result<Self, TransportError> {
        let usb = web_sys::window()
            .map(|w| w.navigator().usb())
            .ok_or(TransportError::NoCcidInterface)?;
        let filters: Vec<web_sys::UsbDeviceFilter> =
            [ccid::webusb::CLASS_SMART_CARD, ccid::webusb::CLASS_VENDOR]
                .into_iter()
                .map(|class| {
                    let f = web_sys::UsbDeviceFilter::new();
                    f.set_class_code(class);
                    f
                })
                .collect();
        let options = web_sys::UsbDeviceRequestOptions::new(&filters);
        let device = usb
            .request_device(&options)
            .await
            .map_err(|_| TransportError::Disconnected)?;
        let device: web_sys::UsbDevice = device.unchecked_into();
        let ids = (device.vendor_id(), device.product_id());
        let reader = open(device).await?;
        Ok(Self {
            reader: Rc::new(RefCell::new(Some(reader))),
            standin: None,
            ids,
            lost: Rc::new(Cell::new(false)),
        })
    }
}

/// `window.certrenewDemo.unplug()` / `.plug()`: pull and re-insert the demo token (for people
/// trying the recovery, and for the end-to-end tests).
fn expose_demo_controls(standin: &Rc<StandIn>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let controls = js_sys::Object::new();
    let s = standin.clone();
    let unplug = Closure::<dyn Fn()>::new(move || s.unplug());
    let s = standin.clone();
    let plug = Closure::<dyn Fn()>::new(move || s.plug());
    let _ = js_sys::Reflect::set(&controls, &"unplug".into(), unplug.as_ref());
    let _ = js_sys::Reflect::set(&controls, &"plug".into(), plug.as_ref());
    unplug.forget();
    plug.forget();
    let _ = js_sys::Reflect::set(&window, &"certrenewDemo".into(), &controls);
}
