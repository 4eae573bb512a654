//! Management keys at rest: wrapped (RFC 3394 AES key wrap, AES-256) under a key-encryption key
//! kept in the data directory, so the database alone — a backup, a PostgreSQL replica — does not
//! hand out the keys that administer suppliers' tokens.

use crate::fault::Error;
use aes::Aes256;
use cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use std::path::Path;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// RFC 3394 §2.2.3.1 default initial value.
const IV: [u8; 8] = [0xA6; 8];
pub const FILE: &str = "management-keys.kek";

pub struct Kek(Aes256);

impl Kek {
    pub fn new(key: &[u8; 32]) -> Self {
        Self(Aes256::new(&Array::from(*key)))
    }

    /// Reads the data directory's key-encryption key, creating it (readable by the owner only)
    /// on first start. Returns whether it was created.
    pub fn load_or_create(dir: &Path) -> Result<(Self, bool), Error> {
        let path = dir.join(FILE);
        if path.exists() {
            let bytes = Zeroizing::new(std::fs::read(&path).map_err(Error::key)?);
            let key: &[u8; 32] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| Error::Key(format!("{}: not a 32-byte key", path.display())))?;
            return Ok((Self::new(key), false));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut_slice()).map_err(Error::key)?;
        crate::ca::write_private_bytes(&path, key.as_slice())?;
        Ok((Self::new(&key), true))
    }

    /// A 32-byte key for another purpose, derived from this one (AES-256 as a PRF over the
    /// label and a block counter), so every server sharing the data directory's KEK derives the
    /// same key and no second secret file is needed.
    pub fn derive(&self, label: &[u8; 15]) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        for (i, half) in out.chunks_mut(16).enumerate() {
            let mut b = Array::default();
            b[..15].copy_from_slice(label);
            b[15] = i as u8 + 1;
            self.0.encrypt_block(&mut b);
            half.copy_from_slice(&b);
        }
        out
    }

    /// Wraps `plain` (16 to 32 bytes in 8-byte steps, as management keys are): 8 bytes longer.
    pub fn wrap(&self, plain: &[u8]) -> Result<Vec<u8>, Error> {
        if plain.len() < 16 || !plain.len().is_multiple_of(8) || plain.len() > 64 {
            return Err(Error::Key(
                "a wrapped key is 16 to 64 bytes in 8-byte steps".into(),
            ));
        }
        let n = plain.len() / 8;
        let mut a = IV;
        let mut r = Zeroizing::new(plain.to_vec());
        for j in 0..6 {
            for i in 0..n {
                let mut b = Zeroizing::new(Array::default());
                b[..8].copy_from_slice(&a);
                b[8..].copy_from_slice(&r[i * 8..i * 8 + 8]);
                self.0.encrypt_block(&mut b);
                let t = (n * j + i + 1) as u64;
                a.copy_from_slice(&b[..8]);
                for (x, y) in a.iter_mut().zip(t.to_be_bytes()) {
                    *x ^= y;
                }
                r[i * 8..i * 8 + 8].copy_from_slice(&b[8..]);
            }
        }
        let mut out = a.to_vec();
        out.extend_from_slice(&r);
        Ok(out)
    }

    /// Unwraps and checks integrity; `None` when the data was not wrapped under this key.
    pub fn unwrap(&self, wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) || wrapped.len() > 72 {
            return None;
        }
        let n = wrapped.len() / 8 - 1;
        let mut a: [u8; 8] = wrapped[..8].try_into().ok()?;
        let mut r = Zeroizing::new(wrapped[8..].to_vec());
        for j in (0..6).rev() {
            for i in (0..n).rev() {
                let t = (n * j + i + 1) as u64;
                let mut b = Zeroizing::new(Array::default());
                for (k, (x, y)) in a.iter().zip(t.to_be_bytes()).enumerate() {
                    b[k] = x ^ y;
                }
                b[8..].copy_from_slice(&r[i * 8..i * 8 + 8]);
                self.0.decrypt_block(&mut b);
                a.copy_from_slice(&b[..8]);
                r[i * 8..i * 8 + 8].copy_from_slice(&b[8..]);
            }
        }
        bool::from(a.ct_eq(&IV)).then_some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_default())
            .collect()
    }

    /// RFC 3394 §4.3, §4.5, §4.6: 128, 192 and 256 bits of key data under a 256-bit KEK.
    #[test]
    fn rfc3394_vectors() {
        let kek: [u8; 32] = core::array::from_fn(|i| i as u8);
        let kek = Kek::new(&kek);
        let data = hex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
        for (len, expected) in [
            (16, "64E8C3F9CE0F5BA2 63E9777905818A2A 93C8191E7D6E8AE7"),
            (24, "A8F9BC1612C68B3F F6E6F4FBE30E71E4 769C8B80A32CB895 8CD5D17D6B254DA1"),
            (
                32,
                "28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21",
            ),
        ] {
            let wrapped = kek.wrap(&data[..len]).expect("wrap");
            assert_eq!(wrapped, hex(expected), "{len} bytes");
            assert_eq!(kek.unwrap(&wrapped).as_deref().map(Vec::as_slice), Some(&data[..len]));
        }
    }

    #[test]
    fn tampered_or_foreign_data_does_not_unwrap() {
        let kek = Kek::new(&[1; 32]);
        let other = Kek::new(&[2; 32]);
        let wrapped = kek.wrap(&[0x42; 24]).expect("wrap");
        assert!(other.unwrap(&wrapped).is_none());
        for i in 0..wrapped.len() {
            let mut bad = wrapped.clone();
            bad[i] ^= 0x80;
            assert!(kek.unwrap(&bad).is_none(), "byte {i}");
        }
        assert!(kek.unwrap(&wrapped[..16]).is_none());
        assert!(kek.unwrap(&[0; 23]).is_none());
        assert!(kek.wrap(&[0; 12]).is_err());
    }
}
