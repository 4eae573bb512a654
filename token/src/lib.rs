#![doc = include_str!("../README.md")]

pub mod applet;
pub mod keys;
pub mod reader;
#[cfg(target_arch = "wasm32")]
pub mod smartcard_standin;
#[cfg(target_arch = "wasm32")]
pub mod usb_standin;
#[cfg(not(target_arch = "wasm32"))]
pub mod vpcd;

pub use applet::{PivApplet, Stats};
pub use reader::VirtualReader;

/// T=1 ATR (ISO 7816-3 §8): TS 3B, T0 85 (TD1, five historical bytes), TD1 80, TD2 01 (T=1),
/// historical bytes 80 73 C0 21 C0 (card capabilities: command chaining, extended Lc/Le), TCK.
pub const ATR: [u8; 10] = [0x3B, 0x85, 0x80, 0x01, 0x80, 0x73, 0xC0, 0x21, 0xC0, 0xD6];

/// The applet used directly as a `Card`, without the CCID layer.
impl ccid::Card for PivApplet {
    async fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, ccid::CardError> {
        Ok(self.process(apdu))
    }

    fn extended_apdus(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn atr_check_byte() {
        let tck = super::ATR[1..].iter().fold(0u8, |a, b| a ^ b);
        assert_eq!(tck, 0, "TCK makes the XOR of T0..TCK zero");
    }
}
