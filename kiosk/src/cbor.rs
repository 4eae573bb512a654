//! The little CBOR (RFC 8949) the bundle formats need: unsigned integers, byte and text strings,
//! arrays and maps, always definite-length and in the shortest form (deterministic encoding).

#[derive(Default)]
pub struct Enc(Vec<u8>);

impl Enc {
    fn head(&mut self, major: u8, n: u64) {
        let m = major << 5;
        match n {
            0..=23 => self.0.push(m | n as u8),
            24..=0xFF => self.0.extend_from_slice(&[m | 24, n as u8]),
            0x100..=0xFFFF => {
                self.0.push(m | 25);
                self.0.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xFFFF_FFFF => {
                self.0.push(m | 26);
                self.0.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                self.0.push(m | 27);
                self.0.extend_from_slice(&n.to_be_bytes());
            }
        }
    }
    pub fn uint(&mut self, n: u64) {
        self.head(0, n);
    }
    pub fn bytes(&mut self, b: &[u8]) {
        self.head(2, b.len() as u64);
        self.0.extend_from_slice(b);
    }
    pub fn text(&mut self, s: &str) {
        self.head(3, s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    pub fn array(&mut self, n: usize) {
        self.head(4, n as u64);
    }
    pub fn map(&mut self, n: usize) {
        self.head(5, n as u64);
    }
    /// Already-encoded CBOR.
    pub fn raw(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("ends early")]
    Truncated,
    #[error("expected {0}")]
    Unexpected(&'static str),
    #[error("unsupported encoding (indefinite length, tag or float)")]
    Unsupported,
    #[error("nested too deeply")]
    TooDeep,
}

/// One item read by `Dec::item` (containers are skipped, not returned).
pub enum Item<'a> {
    Uint(u64),
    Bytes(&'a [u8]),
    Text(&'a str),
    Other,
}

pub struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// Nesting allowed when skipping unknown items: attributes are flat, so this is generous.
const MAX_DEPTH: usize = 16;

impl<'a> Dec<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn head(&mut self) -> Result<(u8, u64), DecodeError> {
        let b = self.take(1)?[0];
        let (major, info) = (b >> 5, b & 31);
        let n = match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.take(1)?[0]),
            25 => u64::from(u16::from_be_bytes([self.take(1)?[0], self.take(1)?[0]])),
            26 => {
                let s = self.take(4)?;
                u64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            }
            27 => {
                let s = self.take(8)?;
                u64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
            }
            _ => return Err(DecodeError::Unsupported),
        };
        Ok((major, n))
    }

    fn expect(&mut self, major: u8, what: &'static str) -> Result<u64, DecodeError> {
        match self.head()? {
            (m, n) if m == major => Ok(n),
            _ => Err(DecodeError::Unexpected(what)),
        }
    }

    fn string(&mut self, major: u8, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.expect(major, what)?;
        self.take(usize::try_from(n).map_err(|_| DecodeError::Truncated)?)
    }

    pub fn uint(&mut self) -> Result<u64, DecodeError> {
        self.expect(0, "an unsigned integer")
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        self.string(2, "a byte string")
    }
    pub fn text(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.string(3, "a text string")?)
            .map_err(|_| DecodeError::Unexpected("UTF-8 text"))
    }
    /// An array header; the count is capped by the bytes left (each item takes at least one).
    pub fn array(&mut self) -> Result<u64, DecodeError> {
        let n = self.expect(4, "an array")?;
        self.bounded(n)
    }
    pub fn map(&mut self) -> Result<u64, DecodeError> {
        let n = self.expect(5, "a map")?;
        self.bounded(n.checked_mul(2).ok_or(DecodeError::Truncated)?)
            .map(|_| n)
    }
    fn bounded(&self, items: u64) -> Result<u64, DecodeError> {
        if items > (self.buf.len() - self.pos) as u64 {
            Err(DecodeError::Truncated)
        } else {
            Ok(items)
        }
    }

    /// The next item; arrays and maps are skipped whole.
    pub fn item(&mut self) -> Result<Item<'a>, DecodeError> {
        self.item_at(0)
    }

    fn item_at(&mut self, depth: usize) -> Result<Item<'a>, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        let start = self.pos;
        let (major, n) = self.head()?;
        self.pos = start;
        Ok(match major {
            0 => Item::Uint(self.uint()?),
            2 => Item::Bytes(self.bytes()?),
            3 => Item::Text(self.text()?),
            4 => {
                for _ in 0..self.array()? {
                    self.item_at(depth + 1)?;
                }
                Item::Other
            }
            5 => {
                for _ in 0..self.map()? * 2 {
                    self.item_at(depth + 1)?;
                }
                Item::Other
            }
            1 => {
                self.head()?;
                let _ = n;
                Item::Other
            }
            _ => return Err(DecodeError::Unsupported),
        })
    }
}
