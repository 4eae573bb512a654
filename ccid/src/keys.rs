//! Keys the host handles: management keys (symmetric, SP 800-78-4 §3) and token public keys.

use crate::piv::Algorithm;
use crate::tlv;
use cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use zeroize::Zeroizing;

/// The well-known default management key of PIV tokens (3DES 0102…08 three times).
pub const DEFAULT_MANAGEMENT_KEY: [u8; 24] = [
    1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
];

/// A card management key. The bytes never leave this type except to the cipher.
#[derive(Clone, PartialEq, Eq)]
pub struct ManagementKey {
    alg: Algorithm,
    key: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for ManagementKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ManagementKey({:?}, <redacted>)", self.alg)
    }
}

impl ManagementKey {
    pub fn new(alg: Algorithm, key: &[u8]) -> Result<Self, String> {
        let want = match alg {
            Algorithm::Tdes | Algorithm::Aes192 => 24,
            Algorithm::Aes128 => 16,
            Algorithm::Aes256 => 32,
            _ => return Err("not a management key algorithm".into()),
        };
        if key.len() != want {
            return Err(format!("a {alg:?} management key is {want} bytes"));
        }
        Ok(Self {
            alg,
            key: Zeroizing::new(key.to_vec()),
        })
    }

    pub fn default_tdes() -> Self {
        Self {
            alg: Algorithm::Tdes,
            key: Zeroizing::new(DEFAULT_MANAGEMENT_KEY.to_vec()),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    pub fn bytes(&self) -> &[u8] {
        &self.key
    }

    pub fn block_size(&self) -> usize {
        if self.alg == Algorithm::Tdes {
            8
        } else {
            16
        }
    }

    /// Encrypts one block (ECB, as the PIV challenge–response does); other lengths give zeros.
    pub fn encrypt(&self, block: &[u8]) -> Vec<u8> {
        self.crypt(block, true)
    }

    pub fn decrypt(&self, block: &[u8]) -> Vec<u8> {
        self.crypt(block, false)
    }

    fn crypt(&self, block: &[u8], enc: bool) -> Vec<u8> {
        fn run<C: KeyInit + BlockCipherEncrypt + BlockCipherDecrypt>(
            key: &[u8],
            block: &[u8],
            enc: bool,
        ) -> Vec<u8> {
            let (Ok(c), Ok(b)) = (C::new_from_slice(key), Array::try_from(block)) else {
                return vec![0; block.len()];
            };
            let mut b = b;
            if enc {
                c.encrypt_block(&mut b);
            } else {
                c.decrypt_block(&mut b);
            }
            b.to_vec()
        }
        match self.alg {
            Algorithm::Tdes => run::<des::TdesEde3>(&self.key, block, enc),
            Algorithm::Aes128 => run::<aes::Aes128>(&self.key, block, enc),
            Algorithm::Aes192 => run::<aes::Aes192>(&self.key, block, enc),
            _ => run::<aes::Aes256>(&self.key, block, enc),
        }
    }
}

/// A public key read from a token (GENERATE) or a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    P256(p256::PublicKey),
    Rsa(rsa::PublicKey),
}

impl PublicKey {
    /// Parses the contents of the 7F49 template (SP 800-73-4 Part 2 §3.3.2, Table 10).
    pub fn from_piv(alg: Algorithm, inner: &[u8]) -> Result<Self, String> {
        match alg {
            Algorithm::EccP256 => {
                let point = tlv::find(inner, 0x86)
                    .map_err(|e| e.to_string())?
                    .ok_or("no EC point (tag 86)")?;
                p256::PublicKey::from_sec1_bytes(point)
                    .map(Self::P256)
                    .map_err(|e| e.to_string())
            }
            Algorithm::Rsa2048 => {
                let n = tlv::find(inner, 0x81)
                    .map_err(|e| e.to_string())?
                    .ok_or("no modulus (tag 81)")?;
                let e = tlv::find(inner, 0x82)
                    .map_err(|e| e.to_string())?
                    .ok_or("no exponent (tag 82)")?;
                let n = rsa::BoxedUint::from_be_slice_vartime(n);
                let e = rsa::BoxedUint::from_be_slice_vartime(e);
                rsa::PublicKey::new(n, e)
                    .map(Self::Rsa)
                    .map_err(|e| e.to_string())
            }
            _ => Err("not an asymmetric algorithm".into()),
        }
    }

    /// The 7F49 template contents a token returns for this key.
    pub fn to_piv(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Self::P256(k) => tlv::write(&mut out, 0x86, k.to_sec1_bytes().as_ref()),
            Self::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                tlv::write(&mut out, 0x81, &k.n().to_be_bytes_trimmed_vartime());
                tlv::write(&mut out, 0x82, &k.e().to_be_bytes_trimmed_vartime());
            }
        }
        out
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::P256(_) => Algorithm::EccP256,
            Self::Rsa(_) => Algorithm::Rsa2048,
        }
    }

    /// SubjectPublicKeyInfo DER.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, String> {
        use spki::EncodePublicKey;
        let doc = match self {
            Self::P256(k) => k.to_public_key_der(),
            Self::Rsa(k) => k.to_public_key_der(),
        };
        doc.map(|d| d.as_bytes().to_vec())
            .map_err(|e| e.to_string())
    }

    pub fn from_spki_der(der: &[u8]) -> Result<Self, String> {
        use spki::DecodePublicKey;
        if let Ok(k) = p256::PublicKey::from_public_key_der(der) {
            return Ok(Self::P256(k));
        }
        rsa::PublicKey::from_public_key_der(der)
            .map(Self::Rsa)
            .map_err(|e| e.to_string())
    }

    /// Verifies a SHA-256 signature as a token makes it (ECDSA DER, or PKCS#1 v1.5).
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        use sha2::Digest;
        match self {
            Self::P256(k) => {
                use p256::ecdsa::signature::Verifier;
                let Ok(sig) = p256::ecdsa::DerSignature::from_bytes(signature) else {
                    return false;
                };
                p256::ecdsa::VerifyingKey::from(k)
                    .verify(message, &sig)
                    .is_ok()
            }
            Self::Rsa(k) => {
                let digest = sha2::Sha256::digest(message);
                k.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest, signature)
                    .is_ok()
            }
        }
    }
}

/// EMSA-PKCS1-v1_5 encoding of a SHA-256 digest (RFC 8017 §9.2) for a `len`-byte modulus.
pub fn pkcs1_sha256_block(digest: &[u8], len: usize) -> Vec<u8> {
    const PREFIX: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let t_len = PREFIX.len() + digest.len();
    let pad = len.saturating_sub(t_len + 3);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&[0x00, 0x01]);
    out.resize(2 + pad, 0xFF);
    out.push(0x00);
    out.extend_from_slice(&PREFIX);
    out.extend_from_slice(digest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tdes_default_key_known_answer() {
        // DES with key 0102030405060708 (K1=K2=K3), plaintext zero.
        let k = ManagementKey::default_tdes();
        let c = k.encrypt(&[0; 8]);
        assert_eq!(k.decrypt(&c), vec![0; 8]);
        assert_ne!(c, vec![0; 8]);
    }

    #[test]
    fn aes_round_trip_and_sizes() {
        let k = ManagementKey::new(Algorithm::Aes128, &[7; 16]).unwrap();
        let c = k.encrypt(&[1; 16]);
        assert_eq!(k.decrypt(&c), vec![1; 16]);
        assert!(ManagementKey::new(Algorithm::Aes256, &[7; 16]).is_err());
        assert!(format!("{k:?}").contains("redacted"));
    }

    #[test]
    fn pkcs1_block_shape() {
        let b = pkcs1_sha256_block(&[0xAA; 32], 256);
        assert_eq!(b.len(), 256);
        assert_eq!(&b[..3], &[0, 1, 0xFF]);
        assert_eq!(b[256 - 32 - 19 - 1], 0);
    }
}
