//! The card side of vsmartcard's vpcd socket protocol, so pcscd-based tools can use the token.
//!
//! vpcd sends frames of a 2-byte big-endian length and a payload. A 1-byte payload is a control
//! code (0 power off, 1 power on, 2 reset, 4 get ATR); anything longer is a command APDU.
//! Only GET ATR and APDUs are answered.

use crate::PivApplet;
use std::io::{self, Read, Write};

pub const POWER_OFF: u8 = 0;
pub const POWER_ON: u8 = 1;
pub const RESET: u8 = 2;
pub const GET_ATR: u8 = 4;

/// What the card answers to one vpcd frame, if anything.
pub fn handle_frame(applet: &mut PivApplet, frame: &[u8]) -> Option<Vec<u8>> {
    match frame {
        [GET_ATR] => Some(crate::ATR.to_vec()),
        [POWER_OFF] | [POWER_ON] | [RESET] => {
            applet.power_cycle();
            None
        }
        [_] | [] => None,
        apdu => Some(applet.process(apdu)),
    }
}

/// Serves one vpcd connection until it closes. `after_apdu` runs after every command (to persist).
pub fn serve<S: Read + Write>(
    stream: &mut S,
    applet: &mut PivApplet,
    mut after_apdu: impl FnMut(&PivApplet),
) -> io::Result<()> {
    let mut len = [0u8; 2];
    loop {
        match stream.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut frame = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut frame)?;
        if let Some(reply) = handle_frame(applet, &frame) {
            let n = u16::try_from(reply.len()).map_err(|_| io::Error::other("reply too long"))?;
            stream.write_all(&n.to_be_bytes())?;
            stream.write_all(&reply)?;
            stream.flush()?;
            if frame.len() > 1 {
                after_apdu(applet);
            }
        }
    }
}
