//! A card reached from the browser, whichever way: our CCID reader over WebUSB, or the platform's
//! PC/SC through the Web Smart Card API. Apps hold this and stay transport-neutral.

use crate::card::{Card, CardError};
use crate::reader::CcidReader;
use crate::smartcard::WebSmartCard;
use crate::webusb::WebUsb;

pub enum BrowserCard {
    Usb(CcidReader<WebUsb>),
    SmartCard(WebSmartCard),
}

impl Card for BrowserCard {
    async fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        match self {
            BrowserCard::Usb(r) => r.transmit_raw(apdu).await,
            BrowserCard::SmartCard(c) => c.transmit_raw(apdu).await,
        }
    }

    fn extended_apdus(&self) -> bool {
        match self {
            BrowserCard::Usb(r) => r.extended_apdus(),
            BrowserCard::SmartCard(c) => c.extended_apdus(),
        }
    }
}
