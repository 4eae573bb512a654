//! The token the app talks to: through WebUSB and our CCID reader code, or through the Web Smart
//! Card API (Isolated Web App on a kiosk), or the demo token (the virtual token behind a
//! `USBDevice` or `navigator.smartCard` stand-in, kept in this browser). Same code paths either way.

use ccid::browser::BrowserCard;
use ccid::piv::{Piv, PivError};
use ccid::smartcard::SmartCardContext;
use ccid::webusb::WebUsb;
use ccid::{CardError, CcidReader, TransportError};
pub use renewal::TokenError;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

const DEMO_KEY: &str = "certrenew.demo_token";

// The demo token lives in its own module (`demo.js`, built from `src/bin/demo.rs`), loaded by
// `boot.js` only when asked for; these are its methods, called by name.
#[wasm_bindgen]
extern "C" {
    #[derive(Clone)]
    pub type DemoToken;
    #[wasm_bindgen(method, getter)]
    fn fresh(this: &DemoToken) -> bool;
    #[wasm_bindgen(method, getter)]
    fn plugged(this: &DemoToken) -> bool;
    #[wasm_bindgen(method)]
    fn device(this: &DemoToken) -> JsValue;
    #[wasm_bindgen(method)]
    fn save(this: &DemoToken) -> Vec<u8>;
    #[wasm_bindgen(method)]
    fn unplug(this: &DemoToken);
    #[wasm_bindgen(method)]
    fn provision(this: &DemoToken, api: String) -> js_sys::Promise;
    #[wasm_bindgen(method)]
    fn plug(this: &DemoToken);
}

/// Loads the demo module (through `window.certrenewLoadDemo`, defined in `boot.js`) and makes
/// a token restored from `saved`.
async fn load_demo(saved: Option<Vec<u8>>, transport: &str) -> Result<DemoToken, String> {
    let window = web_sys::window().ok_or("no window")?;
    let loader: js_sys::Function = js_sys::Reflect::get(&window, &"certrenewLoadDemo".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or("the demo loader is missing (boot.js)")?;
    let saved = saved.map_or(JsValue::UNDEFINED, |b| {
        js_sys::Uint8Array::from(&b[..]).into()
    });
    let promise: js_sys::Promise = loader
        .call2(&JsValue::NULL, &saved, &transport.into())
        .map_err(|e| format!("{e:?}"))?
        .dyn_into()
        .map_err(|_| "the demo loader did not return a promise")?;
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map(|t| t.unchecked_into())
        .map_err(|e| format!("demo token: {e:?}"))
}

/// Where the token is and how to find it again after it was pulled out.
#[derive(Clone)]
enum Source {
    /// vendor/product of a real USB token.
    Usb(u16, u16),
    SmartCard(SmartCardContext),
    DemoUsb(DemoToken),
    DemoSmartCard(DemoToken, SmartCardContext),
}

/// Which transport carries the APDUs, for telling the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    WebUsb,
    SmartCard,
}

/// A connected token. Operations take the connection out for their duration, so two at once fail
/// cleanly (`Busy`) instead of interleaving APDUs. After a removal the next operation reconnects.
#[derive(Clone)]
pub struct TokenHandle {
    reader: Rc<RefCell<Option<BrowserCard>>>,
    source: Source,
    lost: Rc<Cell<bool>>,
}

impl PartialEq for TokenHandle {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.reader, &other.reader)
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

async fn open(device: web_sys::UsbDevice) -> Result<BrowserCard, TransportError> {
    let (transport, desc) = WebUsb::open(device).await?;
    CcidReader::new(transport, desc)
        .map(BrowserCard::Usb)
        .map_err(|e| TransportError::Io(e.to_string()))
}

/// How long a reconnect waits for the card to go back in (Web Smart Card API only; WebUSB has no
/// cheap way to wait, the user presses retry).
const REINSERT_WAIT_MS: u32 = 3000;

async fn connect_card(ctx: &SmartCardContext) -> Result<BrowserCard, CardError> {
    let mut states = ctx.states().await?;
    if !states.iter().any(|s| s.present) {
        states = ctx.status_change(&states, REINSERT_WAIT_MS).await?;
    }
    let reader = states.iter().find(|s| s.present).ok_or(CardError::NoCard)?;
    ctx.connect(&reader.name).await.map(BrowserCard::SmartCard)
}

impl TokenHandle {
    pub fn is_demo(&self) -> bool {
        matches!(self.source, Source::DemoUsb(_) | Source::DemoSmartCard(..))
    }

    pub fn transport(&self) -> Transport {
        match self.source {
            Source::Usb(..) | Source::DemoUsb(_) => Transport::WebUsb,
            Source::SmartCard(_) | Source::DemoSmartCard(..) => Transport::SmartCard,
        }
    }

    fn new(conn: BrowserCard, source: Source) -> Self {
        Self {
            reader: Rc::new(RefCell::new(Some(conn))),
            source,
            lost: Rc::new(Cell::new(false)),
        }
    }

    /// Runs `f` with the PIV application selected. Generic over `f`, so it only glues the two
    /// shared halves together: each caller would otherwise carry its own copy of them.
    pub async fn with<T>(
        &self,
        f: impl AsyncFnOnce(&mut Piv<&mut BrowserCard>) -> Result<T, PivError>,
    ) -> Result<T, TokenError> {
        let mut reader = self.begin().await?;
        let result = {
            let mut piv = Piv::new(&mut reader);
            match piv.select().await {
                Ok(_) => f(&mut piv).await,
                Err(e) => Err(e),
            }
        };
        self.end(reader, result.as_ref().err());
        Ok(result?)
    }

    /// Takes the connection out (reconnecting first after a removal).
    async fn begin(&self) -> Result<BrowserCard, TokenError> {
        if self.lost.get() {
            let fresh = self.reconnect().await.map_err(|e| {
                TokenError::Piv(PivError::Card(match e {
                    CardError::Transport(TransportError::Busy(m)) => TransportError::Busy(m).into(),
                    _ => CardError::Removed,
                }))
            })?;
            *self.reader.borrow_mut() = Some(fresh);
            self.lost.set(false);
        }
        self.reader.borrow_mut().take().ok_or(TokenError::Busy)
    }

    /// Puts the connection back, notes a removal, and keeps the demo token's state.
    fn end(&self, reader: BrowserCard, error: Option<&PivError>) {
        *self.reader.borrow_mut() = Some(reader);
        if let Some(e) = error {
            self.lost.set(renewal::removed(e));
        }
        // The demo token lives in this browser: keep it across reloads.
        let saved = match &self.source {
            Source::DemoUsb(d) | Source::DemoSmartCard(d, _) => Some(d.save()),
            _ => None,
        };
        if let (Some(bytes), Some(st)) = (saved, storage()) {
            let _ = st.set_item(DEMO_KEY, &crate::api_client::b64_encode(&bytes));
        }
    }

    /// Finds the token again after it was pulled and re-inserted.
    async fn reconnect(&self) -> Result<BrowserCard, CardError> {
        match &self.source {
            Source::DemoUsb(s) => {
                if !s.plugged() {
                    return Err(TransportError::Disconnected.into());
                }
                Ok(open(s.device().unchecked_into()).await?)
            }
            Source::SmartCard(ctx) | Source::DemoSmartCard(_, ctx) => connect_card(ctx).await,
            Source::Usb(vendor, product) => {
                let usb = web_sys::window()
                    .map(|w| w.navigator().usb())
                    .ok_or(TransportError::Disconnected)?;
                let devices = usb
                    .get_devices()
                    .await
                    .map_err(|_| TransportError::Disconnected)?;
                let device = devices
                    .iter()
                    .find(|d| (d.vendor_id(), d.product_id()) == (*vendor, *product))
                    .ok_or(TransportError::Disconnected)?;
                Ok(open(device).await?)
            }
        }
    }

    /// The demo token kept in this browser, or a new one with a key and a certificate from the
    /// (demo-mode) server. It is reached through WebUSB like a real token, or through the Web
    /// Smart Card API code when `transport` says so (kiosk rehearsals, tests).
    pub async fn demo(transport: Transport) -> Result<Self, String> {
        let saved = storage()
            .and_then(|s| s.get_item(DEMO_KEY).ok().flatten())
            .and_then(|b| crate::api_client::b64_decode(&b));
        let demo = load_demo(
            saved,
            match transport {
                Transport::WebUsb => "usb",
                Transport::SmartCard => "smartcard",
            },
        )
        .await?;
        if demo.fresh() {
            let done = demo.provision(crate::api_client::api_base());
            wasm_bindgen_futures::JsFuture::from(done)
                .await
                .map_err(|e| format!("demo token: {}", e.as_string().unwrap_or_default()))?;
        }
        let (a, b) = (demo.clone(), demo.clone());
        expose_demo_controls(move || a.unplug(), move || b.plug());
        let handle = match transport {
            Transport::WebUsb => {
                let conn = open(demo.device().unchecked_into())
                    .await
                    .map_err(|e| e.to_string())?;
                Self::new(conn, Source::DemoUsb(demo))
            }
            Transport::SmartCard => {
                let manager: ccid::smartcard::ResourceManager = demo.device().unchecked_into();
                let ctx = SmartCardContext::establish(&manager)
                    .await
                    .map_err(|e| e.to_string())?;
                let conn = connect_card(&ctx).await.map_err(|e| e.to_string())?;
                Self::new(conn, Source::DemoSmartCard(demo, ctx))
            }
        };
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
        let source = Source::Usb(device.vendor_id(), device.product_id());
        Ok(Self::new(open(device).await?, source))
    }

    /// Connects to the card in the first reader that has one, through the Web Smart Card API.
    pub async fn smart_card() -> Result<Self, CardError> {
        let manager = ccid::smartcard::resource_manager()
            .ok_or(CardError::Transport(TransportError::Disconnected))?;
        let ctx = SmartCardContext::establish(&manager).await?;
        let conn = connect_card(&ctx).await?;
        Ok(Self::new(conn, Source::SmartCard(ctx)))
    }
}

/// `window.certrenewDemo.unplug()` / `.plug()`: pull and re-insert the demo token (for people
/// trying the recovery, and for the end-to-end tests).
fn expose_demo_controls(unplug: impl Fn() + 'static, plug: impl Fn() + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let controls = js_sys::Object::new();
    let unplug = Closure::<dyn Fn()>::new(unplug);
    let plug = Closure::<dyn Fn()>::new(plug);
    let _ = js_sys::Reflect::set(&controls, &"unplug".into(), unplug.as_ref());
    let _ = js_sys::Reflect::set(&controls, &"plug".into(), plug.as_ref());
    unplug.forget();
    plug.forget();
    let _ = js_sys::Reflect::set(&window, &"certrenewDemo".into(), &controls);
}

/// The renewal protocol's view of the token (`renewal::install` and the rest run over it).
impl renewal::Token for TokenHandle {
    type Card = BrowserCard;
    async fn with<T>(
        &self,
        f: impl AsyncFnOnce(&mut Piv<&mut BrowserCard>) -> Result<T, PivError>,
    ) -> Result<T, TokenError> {
        TokenHandle::with(self, f).await
    }
}
