//! Web Smart Card API transport (browser only): `navigator.smartCard`, PC/SC in the browser.
//! Exposed to Isolated Web Apps only (ChromeOS kiosks); the platform's PC/SC stack talks to the
//! reader, so this is a `Card` at the APDU level and the CCID code is not involved.
//!
//! Bindings are structural (called by method name), so a stand-in object with the same shape —
//! the virtual token in tests and the demo — runs through exactly this code.

use crate::card::{Card, CardError};
use crate::transport::TransportError;
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// `SmartCardResourceManager` (`navigator.smartCard`).
    #[derive(Clone)]
    pub type ResourceManager;
    #[wasm_bindgen(method, catch, js_name = establishContext)]
    fn establish_context(this: &ResourceManager) -> Result<Promise, JsValue>;

    /// `SmartCardContext`.
    #[derive(Clone)]
    pub type Context;
    #[wasm_bindgen(method, catch, js_name = listReaders)]
    fn list_readers(this: &Context) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = getStatusChange)]
    fn get_status_change(
        this: &Context,
        states: &Array,
        options: &Object,
    ) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn connect(
        this: &Context,
        reader: &str,
        mode: &str,
        options: &Object,
    ) -> Result<Promise, JsValue>;

    /// `SmartCardConnection`.
    #[derive(Clone)]
    pub type Connection;
    #[wasm_bindgen(method, catch)]
    fn transmit(this: &Connection, apdu: &Uint8Array) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn disconnect(this: &Connection, disposition: &str) -> Result<Promise, JsValue>;
}

/// What the Web Smart Card API can say went wrong, mapped onto the errors the rest of the app
/// already explains to users (the same messages as for WebUSB).
pub fn card_error(e: &JsValue) -> CardError {
    let code = Reflect::get(e, &"responseCode".into())
        .ok()
        .and_then(|c| c.as_string())
        .unwrap_or_default();
    let name = e
        .dyn_ref::<web_sys::DomException>()
        .map(|d| d.name())
        .unwrap_or_default();
    match code.as_str() {
        "removed-card" | "reset-card" => CardError::Removed,
        "no-smartcard" | "unpowered-card" => CardError::NoCard,
        "reader-unavailable" | "unknown-reader" | "no-readers-available" => {
            CardError::Transport(TransportError::Disconnected)
        }
        "timeout" => CardError::Transport(TransportError::Timeout),
        "sharing-violation" | "server-too-busy" => CardError::Transport(TransportError::Busy(code)),
        "" if name == "NotAllowedError" || name == "SecurityError" => {
            CardError::Transport(TransportError::ProtectedClass)
        }
        "" => CardError::Transport(TransportError::Io(format!("{name}: {e:?}"))),
        other => CardError::Transport(TransportError::Io(format!("smart card: {other}"))),
    }
}

async fn wait(p: Result<Promise, JsValue>) -> Result<JsValue, CardError> {
    JsFuture::from(p.map_err(|e| card_error(&e))?)
        .await
        .map_err(|e| card_error(&e))
}

fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &k.into(), v);
}

/// `navigator.smartCard` when this browsing context has it (Isolated Web Apps on ChromeOS).
pub fn resource_manager() -> Option<ResourceManager> {
    let nav = web_sys::window()?.navigator();
    let sc = Reflect::get(&nav, &"smartCard".into()).ok()?;
    (!sc.is_undefined() && !sc.is_null()).then(|| sc.unchecked_into())
}

/// A reader and what the platform says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReaderState {
    pub name: String,
    pub present: bool,
    /// Changes each time a card is inserted or removed (PC/SC event counter).
    pub count: u32,
}

/// An established context: lists readers, watches them, connects to cards.
#[derive(Clone)]
pub struct SmartCardContext {
    context: Context,
}

/// Readers a real deployment sees are a handful; a peer claiming more is not believed.
const MAX_READERS: u32 = 64;

impl SmartCardContext {
    pub async fn establish(manager: &ResourceManager) -> Result<Self, CardError> {
        let context = wait(manager.establish_context()).await?.unchecked_into();
        Ok(Self { context })
    }

    pub async fn readers(&self) -> Result<Vec<String>, CardError> {
        let list = wait(self.context.list_readers()).await?;
        let list: Array = list.dyn_into().map_err(|_| malformed("listReaders"))?;
        Ok((0..list.length().min(MAX_READERS))
            .filter_map(|i| list.get(i).as_string())
            .collect())
    }

    /// Waits until one of `known` readers changes (card inserted or removed), at most `timeout_ms`;
    /// pass states from an earlier call. Returns them unchanged when nothing happened in time.
    pub async fn status_change(
        &self,
        known: &[ReaderState],
        timeout_ms: u32,
    ) -> Result<Vec<ReaderState>, CardError> {
        let states = Array::new();
        for k in known {
            states.push(&state_in(
                &k.name,
                if k.present { "present" } else { "empty" },
                k.count,
            ));
        }
        match self.ask(&states, timeout_ms).await {
            // PC/SC's SCARD_E_TIMEOUT: nothing changed.
            Err(CardError::Transport(TransportError::Timeout)) => Ok(known.to_vec()),
            other => other,
        }
    }

    /// The readers now, with whether a card is in each.
    pub async fn states(&self) -> Result<Vec<ReaderState>, CardError> {
        let states = Array::new();
        for n in self.readers().await? {
            // "unaware" makes the platform answer at once with the current state.
            states.push(&state_in(&n, "unaware", 0));
        }
        self.ask(&states, 0).await
    }

    async fn ask(&self, states: &Array, timeout_ms: u32) -> Result<Vec<ReaderState>, CardError> {
        let options = Object::new();
        set(&options, "timeout", &timeout_ms.into());
        let out = wait(self.context.get_status_change(states, &options)).await?;
        let out: Array = out.dyn_into().map_err(|_| malformed("getStatusChange"))?;
        let field = |o: &JsValue, k: &str| Reflect::get(o, &k.into()).unwrap_or_default();
        Ok((0..out.length().min(MAX_READERS))
            .map(|i| {
                let o = out.get(i);
                ReaderState {
                    name: field(&o, "readerName").as_string().unwrap_or_default(),
                    present: field(&field(&o, "eventState"), "present")
                        .as_bool()
                        .unwrap_or(false),
                    count: field(&o, "eventCount").as_f64().map_or(0, |c| c as u32),
                }
            })
            .collect())
    }

    /// Connects to the card in `reader`, T=1 preferred (APDU level), T=0 accepted.
    pub async fn connect(&self, reader: &str) -> Result<WebSmartCard, CardError> {
        let options = Object::new();
        set(
            &options,
            "preferredProtocols",
            &Array::of2(&"t1".into(), &"t0".into()),
        );
        let result = wait(self.context.connect(reader, "shared", &options)).await?;
        let connection: Connection = Reflect::get(&result, &"connection".into())
            .ok()
            .filter(|c| c.is_object())
            .ok_or_else(|| malformed("connect"))?
            .unchecked_into();
        let protocol = Reflect::get(&result, &"activeProtocol".into())
            .ok()
            .and_then(|p| p.as_string())
            .unwrap_or_default();
        Ok(WebSmartCard {
            connection,
            reader: reader.to_owned(),
            protocol,
        })
    }

    /// The first reader holding a card.
    pub async fn connect_first(&self) -> Result<WebSmartCard, CardError> {
        let states = self.states().await?;
        if states.is_empty() {
            return Err(CardError::Transport(TransportError::Disconnected));
        }
        let reader = states.iter().find(|s| s.present).ok_or(CardError::NoCard)?;
        self.connect(&reader.name).await
    }
}

/// A `SmartCardReaderStateIn` with one state flag set.
fn state_in(name: &str, flag: &str, count: u32) -> Object {
    let s = Object::new();
    let flags = Object::new();
    set(&flags, flag, &true.into());
    set(&s, "readerName", &name.into());
    set(&s, "currentState", &flags);
    set(&s, "currentCount", &count.into());
    s
}

fn malformed(what: &str) -> CardError {
    CardError::Malformed(format!(
        "{what}: unexpected answer from navigator.smartCard"
    ))
}

/// A card connected through the Web Smart Card API.
pub struct WebSmartCard {
    connection: Connection,
    pub reader: String,
    /// "t0", "t1" or "raw", as the platform negotiated.
    pub protocol: String,
}

impl WebSmartCard {
    pub async fn disconnect(self) -> Result<(), CardError> {
        wait(self.connection.disconnect("leave")).await.map(|_| ())
    }
}

impl Card for WebSmartCard {
    async fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        let out = wait(self.connection.transmit(&Uint8Array::from(apdu))).await?;
        let bytes = if let Some(b) = out.dyn_ref::<js_sys::ArrayBuffer>() {
            Uint8Array::new(b).to_vec()
        } else if let Some(u) = out.dyn_ref::<Uint8Array>() {
            u.to_vec()
        } else {
            return Err(malformed("transmit"));
        };
        if bytes.len() < 2 {
            return Err(malformed("transmit"));
        }
        Ok(bytes)
    }
}
