//! Test fixtures: a PIV token we did not write (Nitrokey's `piv-authenticator` on trussed's
//! software platform), reachable two ways from our host code:
//! - [`DirectCard`]: the application called with each APDU, as a [`ccid::Card`];
//! - [`with_usb_device`]: behind `usbd-ccid` (the CCID class of Nitrokey's firmware) and
//!   `apdu-dispatch` on a mock USB bus, so our CCID reader meets a real device-side implementation.
#![allow(clippy::unwrap_used)]

pub mod platform;
pub mod usb;

pub use platform::{with_token, Token};
pub use usb::{with_usb_device, UsbPipes, NITROKEY3_CCID_DESCRIPTOR};

use apdu_dispatch::App;
use ccid::card::CardError;
use iso7816::command::CommandView;
use iso7816::Interface;

/// Largest reply apdu-dispatch hands to the CCID class; the direct card uses the same bound.
const REPLY_CAPACITY: usize = 7609;

/// The application as a card: one APDU in, the application's reply and status word out.
/// Extended APDUs carry everything, so no chaining and no GET RESPONSE happen at this level.
pub struct DirectCard<'a, A: App> {
    app: &'a mut A,
    /// APDUs and bytes sent, for comparisons with the virtual token.
    pub apdus: usize,
    pub bytes_out: usize,
}

impl<'a, A: App> DirectCard<'a, A> {
    pub fn new(app: &'a mut A) -> Self {
        Self {
            app,
            apdus: 0,
            bytes_out: 0,
        }
    }
}

impl<A: App> ccid::Card for DirectCard<'_, A> {
    async fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        self.apdus += 1;
        self.bytes_out += apdu.len();
        let mut reply = heapless::Vec::<u8, REPLY_CAPACITY>::new();
        let Ok(command) = CommandView::try_from(apdu) else {
            return Ok(vec![0x67, 0x00]);
        };
        let status = self
            .app
            .call(Interface::Contact, command, reply.as_mut_view());
        let sw: [u8; 2] = match status {
            Ok(()) => [0x90, 0x00],
            Err(status) => {
                reply.clear();
                status.into()
            }
        };
        let mut out = reply.to_vec();
        out.extend_from_slice(&sw);
        Ok(out)
    }

    fn extended_apdus(&self) -> bool {
        true
    }
}
