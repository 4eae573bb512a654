//! The token the app talks to: a USB token over WebUSB, or the in-browser demo token. Both sit
//! behind the same CCID reader code; the PIV client sees only `Card`.

use ccid::piv::{Algorithm, Piv, PivError, Slot};
use ccid::webusb::WebUsb;
use ccid::{CardError, CcidReader};
use std::cell::RefCell;
use std::rc::Rc;
use token::{PivApplet, VirtualReader};
use wasm_bindgen::JsCast;

const DEMO_KEY: &str = "certrenew.demo_token";

pub enum Reader {
    Demo(Box<CcidReader<VirtualReader>>),
    Usb(CcidReader<WebUsb>),
}

impl ccid::Card for Reader {
    async fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        match self {
            Reader::Demo(r) => r.transmit_raw(apdu).await,
            Reader::Usb(r) => r.transmit_raw(apdu).await,
        }
    }

    fn extended_apdus(&self) -> bool {
        match self {
            Reader::Demo(r) => r.extended_apdus(),
            Reader::Usb(r) => r.extended_apdus(),
        }
    }
}

/// A connected token. Operations take the reader out for their duration, so two at once fail
/// cleanly ("busy") instead of interleaving APDUs.
#[derive(Clone)]
pub struct TokenHandle {
    inner: Rc<RefCell<Option<Reader>>>,
    pub demo: bool,
}

impl PartialEq for TokenHandle {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
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

impl TokenHandle {
    fn new(reader: Reader, demo: bool) -> Self {
        Self {
            inner: Rc::new(RefCell::new(Some(reader))),
            demo,
        }
    }

    /// Runs `f` with the PIV application selected.
    pub async fn with<T>(
        &self,
        f: impl AsyncFnOnce(&mut Piv<&mut Reader>) -> Result<T, PivError>,
    ) -> Result<T, TokenError> {
        let mut reader = self.inner.borrow_mut().take().ok_or(TokenError::Busy)?;
        let result = {
            let mut piv = Piv::new(&mut reader);
            match piv.select().await {
                Ok(_) => f(&mut piv).await,
                Err(e) => Err(e),
            }
        };
        if let Reader::Demo(r) = &mut reader {
            // The demo token lives in this browser: keep it across reloads.
            if let Some(s) = storage() {
                let _ = s.set_item(
                    DEMO_KEY,
                    &crate::api_client::b64_encode(&r.transport_mut().applet.save()),
                );
            }
        }
        *self.inner.borrow_mut() = Some(reader);
        Ok(result?)
    }

    /// The demo token kept in this browser, or a new one with a key and a certificate from the
    /// (demo-mode) server.
    pub async fn demo() -> Result<Self, String> {
        let saved = storage().and_then(|s| s.get_item(DEMO_KEY).ok().flatten());
        if let Some(applet) = saved
            .and_then(|b| crate::api_client::b64_decode(&b))
            .and_then(|b| PivApplet::restore(&b))
        {
            return Ok(Self::new(
                Reader::Demo(Box::new(demo_reader(applet)?)),
                true,
            ));
        }
        let handle = Self::new(Reader::Demo(Box::new(demo_reader(PivApplet::new())?)), true);
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
    pub async fn usb() -> Result<Self, ccid::TransportError> {
        let usb = web_sys::window()
            .map(|w| w.navigator().usb())
            .ok_or(ccid::TransportError::NoCcidInterface)?;
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
            .map_err(|_| ccid::TransportError::Disconnected)?;
        let device: web_sys::UsbDevice = device.unchecked_into();
        let (transport, desc) = WebUsb::open(device).await?;
        let reader = CcidReader::new(transport, desc)
            .map_err(|e| ccid::TransportError::Io(e.to_string()))?;
        Ok(Self::new(Reader::Usb(reader), false))
    }
}

fn demo_reader(applet: PivApplet) -> Result<CcidReader<VirtualReader>, String> {
    let r = VirtualReader::new(applet);
    let desc = r.descriptor().clone();
    CcidReader::new(r, desc).map_err(|e| e.to_string())
}

/// Forgets the demo token kept in this browser.
pub fn forget_demo() {
    if let Some(s) = storage() {
        let _ = s.remove_item(DEMO_KEY);
    }
}
