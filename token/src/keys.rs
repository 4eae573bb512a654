//! Private keys held by the virtual token.

use ccid::keys::PublicKey;
use ccid::piv::Algorithm;
use ccid::tlv;
use getrandom::SysRng;
use rand_core::UnwrapErr;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use zeroize::Zeroizing;

pub enum PrivateKey {
    /// Kept as a signing key: deriving one from the bare scalar costs a scalar multiplication
    /// (the public point), which was half of every signature's time.
    P256(p256::ecdsa::SigningKey),
    Rsa(Box<rsa::PrivateKey>),
}

impl PrivateKey {
    pub fn generate(alg: Algorithm) -> Option<Self> {
        let mut rng = UnwrapErr(SysRng);
        match alg {
            Algorithm::EccP256 => Some(Self::P256(rsa::Generate::generate_from_rng(&mut rng))),
            #[cfg(feature = "rsa-keys")]
            Algorithm::Rsa2048 => rsa::PrivateKey::new(&mut rng, 2048)
                .ok()
                .map(|k| Self::Rsa(Box::new(k))),
            _ => None,
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Self::P256(_) => Algorithm::EccP256,
            Self::Rsa(_) => Algorithm::Rsa2048,
        }
    }

    pub fn public_key(&self) -> PublicKey {
        match self {
            Self::P256(k) => p256::PublicKey::from(k.verifying_key()).into(),
            Self::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                PublicKey::Rsa(ccid::keys::RsaPublicKey::from_own_key(
                    &k.n().to_be_bytes_trimmed_vartime(),
                    &k.e().to_be_bytes_trimmed_vartime(),
                ))
            }
        }
    }

    /// The private operation of GENERAL AUTHENTICATE: ECDSA over a prehashed input (DER signature),
    /// or raw RSA over a full-size block (SP 800-73-4 Part 2 §3.2.4).
    pub fn sign_raw(&self, input: &[u8]) -> Option<Vec<u8>> {
        match self {
            Self::P256(k) => {
                // Hashes longer than the field are truncated (FIPS 186-4 §6.4); shorter ones padded.
                let mut digest = [0u8; 32];
                let n = input.len().min(32);
                digest[32 - n..].copy_from_slice(&input[..n]);
                #[cfg(feature = "openssl")]
                return native::sign_p256(k, &digest);
                #[cfg(not(feature = "openssl"))]
                {
                    use p256::ecdsa::signature::hazmat::PrehashSigner;
                    let sig: p256::ecdsa::Signature = k.sign_prehash(&digest).ok()?;
                    Some(sig.to_der().as_bytes().to_vec())
                }
            }
            Self::Rsa(k) => {
                let size = k.size();
                if input.len() != size {
                    return None;
                }
                let c = rsa::BoxedUint::from_be_slice(input, k.n_bits_precision()).ok()?;
                let m = rsa::hazmat::rsa_decrypt_and_check(
                    k.as_ref(),
                    Some(&mut UnwrapErr(SysRng)),
                    &c,
                )
                .ok()?;
                let bytes = m.to_be_bytes();
                let mut out = vec![0u8; size];
                let take = bytes.len().min(size);
                out[size - take..].copy_from_slice(&bytes[bytes.len() - take..]);
                Some(out)
            }
        }
    }

    /// Serialises the key as TLVs: 01 scalar (P-256), or 02 p, 03 q, 04 e (RSA).
    pub fn save(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        match self {
            Self::P256(k) => tlv::write(&mut out, 0x01, k.to_bytes().as_slice()),
            Self::Rsa(k) => {
                let primes = k.primes();
                if let [p, q] = primes {
                    tlv::write(&mut out, 0x02, &p.to_be_bytes_trimmed_vartime());
                    tlv::write(&mut out, 0x03, &q.to_be_bytes_trimmed_vartime());
                }
                tlv::write(&mut out, 0x04, &k.e().to_be_bytes_trimmed_vartime());
            }
        }
        out
    }

    pub fn restore(buf: &[u8]) -> Option<Self> {
        if let Some(scalar) = tlv::find(buf, 0x01).ok()? {
            let bytes: [u8; 32] = scalar.try_into().ok()?;
            return p256::ecdsa::SigningKey::from_bytes(&bytes.into())
                .ok()
                .map(Self::P256);
        }
        Self::restore_rsa(buf)
    }

    #[cfg(not(feature = "rsa-keys"))]
    fn restore_rsa(_: &[u8]) -> Option<Self> {
        None
    }

    #[cfg(feature = "rsa-keys")]
    fn restore_rsa(buf: &[u8]) -> Option<Self> {
        let p = tlv::find(buf, 0x02).ok()??;
        let q = tlv::find(buf, 0x03).ok()??;
        let e = tlv::find(buf, 0x04).ok()??;
        let k = rsa::PrivateKey::from_p_q(
            rsa::BoxedUint::from_be_slice_vartime(p),
            rsa::BoxedUint::from_be_slice_vartime(q),
            rsa::BoxedUint::from_be_slice_vartime(e),
        )
        .ok()?;
        Some(Self::Rsa(Box::new(k)))
    }
}

#[cfg(feature = "openssl")]
mod native {
    use openssl::bn::{BigNum, BigNumContext};
    use openssl::ec::{EcGroup, EcKey, EcPoint};
    use openssl::ecdsa::EcdsaSig;
    use openssl::nid::Nid;

    /// ECDSA over a prehashed input with OpenSSL: a random nonce, as tokens use, where the p256
    /// crate derives it (RFC 6979); either verifies the same. DER signature.
    pub(super) fn sign_p256(k: &p256::ecdsa::SigningKey, digest: &[u8; 32]) -> Option<Vec<u8>> {
        // Built once: the curve's tables are the same for every signature.
        static GROUP: std::sync::OnceLock<Option<EcGroup>> = std::sync::OnceLock::new();
        let group = GROUP
            .get_or_init(|| EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).ok())
            .as_ref()?;
        let mut ctx = BigNumContext::new().ok()?;
        let point = k.verifying_key().to_sec1_point(false);
        let public = EcPoint::from_bytes(group, point.as_bytes(), &mut ctx).ok()?;
        let scalar = zeroize::Zeroizing::new(k.to_bytes());
        let mut d = BigNum::from_slice(scalar.as_slice()).ok()?;
        let key = EcKey::from_private_components(group, &d, &public);
        // OpenSSL's EcKey clears its own copy when freed; ours is cleared here.
        d.clear();
        let key = key.ok()?;
        EcdsaSig::sign(digest, &key).ok()?.to_der().ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use sha2::Digest;

    /// A P-256 signature of the token verifies with the host's code, whichever library made it;
    /// with OpenSSL the nonce is random (two signatures differ), with p256 it is RFC 6979's.
    #[test]
    fn p256_signatures_verify_with_the_host_code() {
        let key = PrivateKey::generate(Algorithm::EccP256).unwrap();
        let digest = sha2::Sha256::digest(b"canonical application");
        let (a, b) = (
            key.sign_raw(&digest).unwrap(),
            key.sign_raw(&digest).unwrap(),
        );
        let public = key.public_key();
        assert!(public.verify_sha256(b"canonical application", &a));
        assert!(public.verify_sha256(b"canonical application", &b));
        assert!(!public.verify_sha256(b"another application", &a));
        assert_eq!(a == b, cfg!(not(feature = "openssl")));
    }
}
