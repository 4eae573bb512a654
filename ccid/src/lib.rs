#![doc = include_str!("../README.md")]

pub mod apdu;
#[cfg(target_arch = "wasm32")]
pub mod browser;
pub mod card;
pub mod cert;
pub mod keys;
pub mod models;
pub mod msg;
pub mod piv;
pub mod reader;
#[cfg(target_arch = "wasm32")]
pub mod smartcard;
pub mod sw;
pub mod tlv;
pub mod transport;
#[cfg(target_arch = "wasm32")]
pub mod webusb;

pub use apdu::{Command, Response};
pub use card::{transmit, Card, CardError};
pub use reader::CcidReader;
pub use sw::StatusWord;
pub use transport::{Transport, TransportError};
