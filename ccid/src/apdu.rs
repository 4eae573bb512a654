//! Command and response APDUs, ISO 7816-4 §5.1 (short and extended length fields).

use crate::sw::StatusWord;

/// Largest command data field a short APDU carries.
pub const SHORT_MAX_DATA: usize = 255;
/// Largest response a short Le asks for.
pub const SHORT_MAX_LE: usize = 256;
/// Largest extended Lc/Le.
pub const EXTENDED_MAX: usize = 65536;

/// A command APDU. `le` is the number of response bytes expected (`None` = no Le field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    pub le: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApduError {
    #[error("APDU shorter than its header")]
    TooShort,
    #[error("APDU length fields do not match its size")]
    BadLength,
    #[error("command data too long for this APDU form")]
    TooLong,
}

impl Command {
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Self {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
        }
    }

    pub fn data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    /// Expect up to `le` bytes; 0 is not meaningful, use 256 or 65536 for "all".
    pub fn le(mut self, le: usize) -> Self {
        self.le = Some(le);
        self
    }

    /// Encodes the APDU. Extended form is used when `extended` is set and a field needs it.
    pub fn encode(&self, extended: bool) -> Result<Vec<u8>, ApduError> {
        let mut out = Vec::with_capacity(self.data.len() + 9);
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        let need_ext =
            self.data.len() > SHORT_MAX_DATA || self.le.is_some_and(|l| l > SHORT_MAX_LE);
        if need_ext && !extended {
            return Err(ApduError::TooLong);
        }
        if self.data.len() > EXTENDED_MAX - 1 || self.le.is_some_and(|l| l > EXTENDED_MAX) {
            return Err(ApduError::TooLong);
        }
        if need_ext {
            out.push(0);
            if !self.data.is_empty() {
                out.extend_from_slice(&(self.data.len() as u16).to_be_bytes());
                out.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                // 65536 is encoded as 0000.
                out.extend_from_slice(&((le % EXTENDED_MAX) as u16).to_be_bytes());
            }
        } else {
            if !self.data.is_empty() {
                out.push(self.data.len() as u8);
                out.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                out.push((le % SHORT_MAX_LE) as u8);
            }
        }
        Ok(out)
    }

    /// Parses an APDU as a card receives it (all four ISO 7816-3 §12.1 cases, short or extended).
    pub fn parse(buf: &[u8]) -> Result<Self, ApduError> {
        let (header, body) = buf.split_at_checked(4).ok_or(ApduError::TooShort)?;
        let mut cmd = Command::new(header[0], header[1], header[2], header[3]);
        match body {
            [] => {}
            [le] => cmd.le = Some(if *le == 0 { 256 } else { usize::from(*le) }),
            [0, rest @ ..] if rest.len() >= 2 => {
                let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let rest = &rest[2..];
                if rest.is_empty() {
                    // Case 2E: Le only.
                    cmd.le = Some(if n == 0 { EXTENDED_MAX } else { n });
                } else {
                    if n == 0 {
                        return Err(ApduError::BadLength);
                    }
                    let data = rest.get(..n).ok_or(ApduError::BadLength)?;
                    cmd.data = data.to_vec();
                    match &rest[n..] {
                        [] => {}
                        [a, b] => {
                            let le = usize::from(u16::from_be_bytes([*a, *b]));
                            cmd.le = Some(if le == 0 { EXTENDED_MAX } else { le });
                        }
                        _ => return Err(ApduError::BadLength),
                    }
                }
            }
            [lc, rest @ ..] => {
                let n = usize::from(*lc);
                if n == 0 {
                    return Err(ApduError::BadLength);
                }
                let data = rest.get(..n).ok_or(ApduError::BadLength)?;
                cmd.data = data.to_vec();
                match &rest[n..] {
                    [] => {}
                    [le] => cmd.le = Some(if *le == 0 { 256 } else { usize::from(*le) }),
                    _ => return Err(ApduError::BadLength),
                }
            }
        }
        Ok(cmd)
    }
}

/// A response APDU: data and status word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: StatusWord,
}

impl Response {
    pub fn parse(buf: &[u8]) -> Result<Self, ApduError> {
        let split = buf.len().checked_sub(2).ok_or(ApduError::TooShort)?;
        let (data, sw) = buf.split_at(split);
        Ok(Self {
            data: data.to_vec(),
            sw: StatusWord::from(u16::from_be_bytes([sw[0], sw[1]])),
        })
    }

    pub fn ok(data: impl Into<Vec<u8>>) -> Self {
        Self {
            data: data.into(),
            sw: StatusWord::Ok,
        }
    }

    pub fn status(sw: StatusWord) -> Self {
        Self {
            data: Vec::new(),
            sw,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&self.sw.to_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;
    use proptest::prelude::*;

    #[test]
    fn encodes_all_cases() {
        let c = Command::new(0, 0xA4, 4, 0).data(hex!("A000000308")).le(256);
        assert_eq!(c.encode(false).unwrap(), hex!("00A4040005A00000030800"));
        assert_eq!(
            Command::new(0, 0xFD, 0, 0).encode(false).unwrap(),
            hex!("00FD0000")
        );
        let long = Command::new(0, 0xDB, 0x3F, 0xFF)
            .data(vec![7; 300])
            .le(65536);
        let enc = long.encode(true).unwrap();
        assert_eq!(&enc[..7], &hex!("00DB3FFF00012C"));
        assert_eq!(&enc[enc.len() - 2..], &hex!("0000"));
        assert_eq!(long.encode(false), Err(ApduError::TooLong));
    }

    #[test]
    fn parses_what_it_encodes() {
        for (data, le, ext) in [
            (0, None, false),
            (3, None, false),
            (0, Some(256), false),
            (3, Some(10), false),
            (300, None, true),
            (0, Some(65536), true),
            (300, Some(1000), true),
            (3, Some(300), true),
        ] {
            let c = Command {
                cla: 0,
                ins: 0xCB,
                p1: 0x3F,
                p2: 0xFF,
                data: vec![1; data],
                le,
            };
            assert_eq!(Command::parse(&c.encode(ext).unwrap()).unwrap(), c);
        }
    }

    #[test]
    fn rejects_inconsistent_lengths() {
        assert_eq!(Command::parse(&hex!("00A4")), Err(ApduError::TooShort));
        assert_eq!(
            Command::parse(&hex!("00A4040005A000")),
            Err(ApduError::BadLength)
        );
        assert_eq!(
            Command::parse(&hex!("00A4040001AA0000")),
            Err(ApduError::BadLength)
        );
        assert_eq!(Response::parse(&hex!("90")), Err(ApduError::TooShort));
    }

    proptest! {
        #[test]
        fn parsing_random_bytes_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Command::parse(&buf);
            let _ = Response::parse(&buf);
        }
    }
}
