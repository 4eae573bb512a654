//! Keys the host handles: management keys (symmetric, SP 800-78-4 §3) and token public keys.

use crate::piv::types::Algorithm;
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
    P256(EcPoint),
    Rsa(RsaPublicKey),
}

/// A P-256 public key as its uncompressed SEC1 point (`04 ‖ x ‖ y`). Kept as bytes, like
/// [`RsaPublicKey`]: reading, showing and re-encoding a key cost no field arithmetic, so the
/// browser app (which never verifies) links none. Whether the point lies on the curve is checked
/// where the key is used: [`PublicKey::verify_sha256`] and [`EcPoint::on_curve`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EcPoint([u8; 65]);

impl EcPoint {
    /// The shape tokens and certificates use: 65 bytes, uncompressed (RFC 5480 §2.2).
    pub fn new(sec1: &[u8]) -> Result<Self, String> {
        <[u8; 65]>::try_from(sec1)
            .ok()
            .filter(|b| b[0] == 0x04)
            .map(Self)
            .ok_or_else(|| "the P-256 point is not 65 bytes, uncompressed".into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether the point is on the curve (and not the identity): what a CA checks before it
    /// certifies a key it has no signature from.
    pub fn on_curve(&self) -> bool {
        p256::PublicKey::from_sec1_bytes(&self.0).is_ok()
    }
}

impl From<p256::PublicKey> for EcPoint {
    fn from(k: p256::PublicKey) -> Self {
        use p256::elliptic_curve::sec1::ToSec1Point;
        let point = k.to_sec1_point(false);
        let mut out = [0u8; 65];
        out.copy_from_slice(point.as_bytes());
        Self(out)
    }
}

impl From<p256::PublicKey> for PublicKey {
    fn from(k: p256::PublicKey) -> Self {
        Self::P256(k.into())
    }
}

/// id-ecPublicKey and its named curve prime256v1 (RFC 5480 §2.1.1).
const EC_PUBLIC_KEY: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// An RSA public key as bytes (big-endian, no leading zeros). Kept as bytes so reading, showing
/// and re-encoding a key costs no big-integer code; only `verify_sha256` needs it, and code that
/// never verifies (the browser app) never links it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaPublicKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

/// rsaEncryption (RFC 8017 Appendix C).
const RSA_ENCRYPTION: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

fn trim(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[first..]
}

impl RsaPublicKey {
    /// Checks the shape the tokens produce: a 2048..=4096-bit odd modulus, an odd exponent > 1
    /// no longer than 4 bytes.
    pub fn new(n: &[u8], e: &[u8]) -> Result<Self, String> {
        let (n, e) = (trim(n), trim(e));
        let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
        if !(2048..=4096).contains(&bits) || n.last().is_none_or(|b| b % 2 == 0) {
            return Err(format!("RSA modulus of {bits} bits is not accepted"));
        }
        if e.is_empty() || e.len() > 4 || e.last().is_none_or(|b| b % 2 == 0) || e == [1] {
            return Err("RSA public exponent is not accepted".into());
        }
        Ok(Self {
            n: n.to_vec(),
            e: e.to_vec(),
        })
    }

    /// For a key whose private half we hold (the virtual token's own keys): no shape checks, so
    /// an imported key of another size still answers instead of failing.
    pub fn from_own_key(n: &[u8], e: &[u8]) -> Self {
        Self {
            n: trim(n).to_vec(),
            e: trim(e).to_vec(),
        }
    }

    pub fn modulus(&self) -> &[u8] {
        &self.n
    }

    pub fn exponent(&self) -> &[u8] {
        &self.e
    }

    /// RSAPublicKey (RFC 8017 §A.1.1) DER.
    fn pkcs1_der(&self) -> Result<Vec<u8>, der::Error> {
        use der::Encode;
        #[derive(der::Sequence)]
        struct Pkcs1<'a> {
            n: der::asn1::UintRef<'a>,
            e: der::asn1::UintRef<'a>,
        }
        Pkcs1 {
            n: der::asn1::UintRef::new(&self.n)?,
            e: der::asn1::UintRef::new(&self.e)?,
        }
        .to_der()
    }

    fn from_pkcs1_der(der_bytes: &[u8]) -> Result<Self, String> {
        use der::Decode;
        #[derive(der::Sequence)]
        struct Pkcs1<'a> {
            n: der::asn1::UintRef<'a>,
            e: der::asn1::UintRef<'a>,
        }
        let k = Pkcs1::from_der(der_bytes).map_err(|e| e.to_string())?;
        Self::new(k.n.as_bytes(), k.e.as_bytes())
    }

    fn verify_pkcs1_sha256(&self, digest: &[u8], signature: &[u8]) -> bool {
        let n = rsa::BoxedUint::from_be_slice_vartime(&self.n);
        let e = rsa::BoxedUint::from_be_slice_vartime(&self.e);
        rsa::PublicKey::new(n, e).is_ok_and(|k| {
            k.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), digest, signature)
                .is_ok()
        })
    }
}

impl PublicKey {
    /// Parses the contents of the 7F49 template (SP 800-73-4 Part 2 §3.3.2, Table 10).
    pub fn from_piv(alg: Algorithm, inner: &[u8]) -> Result<Self, String> {
        match alg {
            Algorithm::EccP256 => {
                let point = tlv::find(inner, 0x86)
                    .map_err(|e| e.to_string())?
                    .ok_or("no EC point (tag 86)")?;
                EcPoint::new(point).map(Self::P256)
            }
            Algorithm::Rsa2048 => {
                let n = tlv::find(inner, 0x81)
                    .map_err(|e| e.to_string())?
                    .ok_or("no modulus (tag 81)")?;
                let e = tlv::find(inner, 0x82)
                    .map_err(|e| e.to_string())?
                    .ok_or("no exponent (tag 82)")?;
                RsaPublicKey::new(n, e).map(Self::Rsa)
            }
            _ => Err("not an asymmetric algorithm".into()),
        }
    }

    /// The 7F49 template contents a token returns for this key.
    pub fn to_piv(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Self::P256(k) => tlv::write(&mut out, 0x86, k.as_bytes()),
            Self::Rsa(k) => {
                tlv::write(&mut out, 0x81, &k.n);
                tlv::write(&mut out, 0x82, &k.e);
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
        use der::Encode;
        let (oid, parameters, key) = match self {
            Self::P256(k) => (
                EC_PUBLIC_KEY,
                der::asn1::Any::encode_from(&PRIME256V1).map_err(|e| e.to_string())?,
                k.as_bytes().to_vec(),
            ),
            Self::Rsa(k) => (
                RSA_ENCRYPTION,
                der::asn1::Null.into(),
                k.pkcs1_der().map_err(|e| e.to_string())?,
            ),
        };
        let spki = spki::SubjectPublicKeyInfoOwned {
            algorithm: spki::AlgorithmIdentifierOwned {
                oid,
                parameters: Some(parameters),
            },
            subject_public_key: der::asn1::BitString::from_bytes(&key)
                .map_err(|e| e.to_string())?,
        };
        spki.to_der().map_err(|e| e.to_string())
    }

    pub fn from_spki_der(der_bytes: &[u8]) -> Result<Self, String> {
        use der::Decode;
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der_bytes).map_err(|e| e.to_string())?;
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or("the key is not a whole number of bytes")?;
        if spki.algorithm.oid == RSA_ENCRYPTION {
            return RsaPublicKey::from_pkcs1_der(raw).map(Self::Rsa);
        }
        let curve = spki
            .algorithm
            .parameters
            .map(|p| p.decode_as::<der::oid::ObjectIdentifier>());
        if spki.algorithm.oid != EC_PUBLIC_KEY || !matches!(curve, Some(Ok(c)) if c == PRIME256V1) {
            return Err("the key is neither P-256 nor RSA".into());
        }
        EcPoint::new(raw).map(Self::P256)
    }

    /// Whether a CA may certify the key without a signature made by it: a P-256 point must lie
    /// on the curve; an RSA key's shape was checked when it was read.
    pub fn on_curve(&self) -> bool {
        match self {
            Self::P256(k) => k.on_curve(),
            Self::Rsa(_) => true,
        }
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
                p256::ecdsa::VerifyingKey::from_sec1_bytes(k.as_bytes())
                    .is_ok_and(|v| v.verify(message, &sig).is_ok())
            }
            Self::Rsa(k) => k.verify_pkcs1_sha256(&sha2::Sha256::digest(message), signature),
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
    fn p256_spki_is_what_the_p256_crate_writes_and_reads() {
        use spki::{DecodePublicKey, EncodePublicKey};
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        let theirs = secret.public_key();
        let der = theirs.to_public_key_der().unwrap();
        let ours = PublicKey::from_spki_der(der.as_bytes()).unwrap();
        assert_eq!(ours, PublicKey::from(theirs));
        assert!(ours.on_curve());
        assert_eq!(ours.to_spki_der().unwrap(), der.as_bytes());
        let back = p256::PublicKey::from_public_key_der(&ours.to_spki_der().unwrap()).unwrap();
        assert_eq!(back, theirs);
        assert_eq!(
            PublicKey::from_piv(Algorithm::EccP256, &ours.to_piv()).unwrap(),
            ours
        );
    }

    #[test]
    fn a_point_off_the_curve_is_read_but_never_trusted() {
        let mut bytes = [1u8; 65];
        bytes[0] = 0x04;
        let key = PublicKey::P256(EcPoint::new(&bytes).unwrap());
        let spki = key.to_spki_der().unwrap();
        assert_eq!(PublicKey::from_spki_der(&spki).unwrap(), key);
        assert!(!key.on_curve());
        assert!(!key.verify_sha256(b"m", &[0x30, 0x06, 2, 1, 1, 2, 1, 1]));
        // Compressed and short points, and other curves, are refused when read.
        assert!(EcPoint::new(&bytes[..33]).is_err());
        let mut compressed = [2u8; 33];
        compressed[0] = 0x02;
        assert!(EcPoint::new(&compressed).is_err());
        let p384 = [
            0x30, 0x16, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x02, 0x00, 0x04,
        ];
        assert!(PublicKey::from_spki_der(&p384).is_err());
    }

    #[test]
    fn rsa_spki_is_what_the_rsa_crate_writes_and_reads() {
        use spki::{DecodePublicKey, EncodePublicKey};
        let mut n = [0xA5u8; 256];
        n[0] = 0xC3;
        n[255] |= 1;
        let ours = PublicKey::Rsa(RsaPublicKey::new(&n, &[1, 0, 1]).unwrap());
        let theirs = rsa::PublicKey::new(
            rsa::BoxedUint::from_be_slice_vartime(&n),
            rsa::BoxedUint::from_be_slice_vartime(&[1, 0, 1]),
        )
        .unwrap();
        let der = ours.to_spki_der().unwrap();
        assert_eq!(der, theirs.to_public_key_der().unwrap().as_bytes());
        assert_eq!(rsa::PublicKey::from_public_key_der(&der).unwrap(), theirs);
        assert_eq!(PublicKey::from_spki_der(&der).unwrap(), ours);
        // The same key through the PIV template.
        assert_eq!(
            PublicKey::from_piv(Algorithm::Rsa2048, &ours.to_piv()).unwrap(),
            ours
        );
        // Shapes tokens never produce are refused.
        assert!(RsaPublicKey::new(&n[..64], &[1, 0, 1]).is_err());
        assert!(RsaPublicKey::new(&n, &[2]).is_err());
        assert!(RsaPublicKey::new(&n, &[1]).is_err());
    }

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
