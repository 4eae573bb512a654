//! BER-TLV as PIV uses it (ISO 7816-4 §5.2, SP 800-73-4 Part 2 §3.3): tags of up to three bytes,
//! definite lengths of up to four bytes. Reading is zero-copy and never panics.

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("TLV truncated")]
    Truncated,
    #[error("TLV length form not supported")]
    BadLength,
    #[error("TLV tag longer than three bytes")]
    BadTag,
    #[error("unexpected bytes after TLV")]
    TrailingBytes,
    #[error("expected tag {expected:X}, found {found:X}")]
    UnexpectedTag { expected: u32, found: u32 },
    #[error("tag {0:X} missing")]
    Missing(u32),
}

/// One data object: its tag (big-endian, up to three bytes) and a borrowed value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u32,
    pub value: &'a [u8],
}

/// Reads one TLV from the front of `buf`, returning it and the rest.
pub fn read(buf: &[u8]) -> Result<(Tlv<'_>, &[u8]), TlvError> {
    let (&first, mut rest) = buf.split_first().ok_or(TlvError::Truncated)?;
    let mut tag = u32::from(first);
    if first & 0x1F == 0x1F {
        // Multi-byte tag: continuation bytes have bit 8 set; at most two more.
        for i in 0.. {
            let (&b, r) = rest.split_first().ok_or(TlvError::Truncated)?;
            rest = r;
            tag = (tag << 8) | u32::from(b);
            if b & 0x80 == 0 {
                break;
            }
            if i == 1 {
                return Err(TlvError::BadTag);
            }
        }
    }
    let (&l0, r) = rest.split_first().ok_or(TlvError::Truncated)?;
    rest = r;
    let len = match l0 {
        0..=0x7F => usize::from(l0),
        0x81..=0x84 => {
            let n = usize::from(l0 & 0x7F);
            let (bytes, r) = rest.split_at_checked(n).ok_or(TlvError::Truncated)?;
            rest = r;
            bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        }
        _ => return Err(TlvError::BadLength),
    };
    let (value, rest) = rest.split_at_checked(len).ok_or(TlvError::Truncated)?;
    Ok((Tlv { tag, value }, rest))
}

/// Reads exactly one TLV with the given tag and nothing after it.
pub fn read_only(buf: &[u8], tag: u32) -> Result<&[u8], TlvError> {
    let (tlv, rest) = read(buf)?;
    if tlv.tag != tag {
        return Err(TlvError::UnexpectedTag {
            expected: tag,
            found: tlv.tag,
        });
    }
    if !rest.is_empty() {
        return Err(TlvError::TrailingBytes);
    }
    Ok(tlv.value)
}

/// Iterates over consecutive TLVs; yields an error once and then stops.
pub fn iter(buf: &[u8]) -> TlvIter<'_> {
    TlvIter {
        rest: buf,
        failed: false,
    }
}

pub struct TlvIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>, TlvError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        match read(self.rest) {
            Ok((tlv, rest)) => {
                self.rest = rest;
                Some(Ok(tlv))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Finds the first TLV with `tag` among consecutive TLVs in `buf`.
pub fn find(buf: &[u8], tag: u32) -> Result<Option<&[u8]>, TlvError> {
    for tlv in iter(buf) {
        let tlv = tlv?;
        if tlv.tag == tag {
            return Ok(Some(tlv.value));
        }
    }
    Ok(None)
}

/// Appends a TLV to `out`.
pub fn write(out: &mut Vec<u8>, tag: u32, value: &[u8]) {
    let tag_bytes = tag.to_be_bytes();
    let skip = tag_bytes.iter().take(3).take_while(|b| **b == 0).count();
    out.extend_from_slice(&tag_bytes[skip..]);
    write_len(out, value.len());
    out.extend_from_slice(value);
}

/// Returns a TLV as a new buffer.
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    write(&mut out, tag, value);
    out
}

fn write_len(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => {
            out.push(0x82);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x83);
            out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;
    use proptest::prelude::*;

    #[test]
    fn reads_piv_container() {
        // GET DATA response shape: 53 { 70 cert, 71 01 00, FE 00 }.
        let buf = hex!("530A 7003 010203 710100 FE00");
        let inner = read_only(&buf, 0x53).unwrap();
        assert_eq!(find(inner, 0x70).unwrap(), Some(&hex!("010203")[..]));
        assert_eq!(find(inner, 0xFE).unwrap(), Some(&[][..]));
        assert_eq!(find(inner, 0x72).unwrap(), None);
    }

    #[test]
    fn multi_byte_tags_and_lengths() {
        let value = vec![0xAB; 300];
        let enc = encode(0x7F49, &value);
        assert_eq!(&enc[..5], &hex!("7F4982012C"));
        let (tlv, rest) = read(&enc).unwrap();
        assert_eq!((tlv.tag, tlv.value.len(), rest.len()), (0x7F49, 300, 0));
        assert_eq!(encode(0x5FC105, &[]), hex!("5FC10500"));
        assert_eq!(read(&hex!("5FC10500")).unwrap().0.tag, 0x5FC105);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(read(&hex!("70")), Err(TlvError::Truncated));
        assert_eq!(read(&hex!("7005 0102")), Err(TlvError::Truncated));
        assert_eq!(read(&hex!("7085 0000000001")), Err(TlvError::BadLength));
        assert_eq!(read(&hex!("5F8080 00")), Err(TlvError::BadTag));
        assert_eq!(
            read_only(&hex!("7000 00"), 0x70),
            Err(TlvError::TrailingBytes)
        );
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = iter(&buf).count();
            let _ = read_only(&buf, 0x53);
        }

        #[test]
        fn round_trips(tag in prop_oneof![0x01u32..0x1F, 0x5F00u32..0x5F7F, 0x5FC100u32..0x5FC17F],
                       value in proptest::collection::vec(any::<u8>(), 0..1000)) {
            let enc = encode(tag, &value);
            let (tlv, rest) = read(&enc).unwrap();
            prop_assert_eq!(tlv.tag, tag);
            prop_assert_eq!(tlv.value, &value[..]);
            prop_assert!(rest.is_empty());
        }
    }
}
