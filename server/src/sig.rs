//! Signature work on the server's hot path, through ring: its assembly P-256 and RSA are several
//! times faster here than the pure-Rust p256 and rsa crates (one P-256 verification ≈ 0.1 ms
//! against ≈ 0.55 ms; one RSA-2048 signature ≈ 1 ms against ≈ 2.9 ms; `bench/load.sh` prints
//! both) — except RSA signing, where OpenSSL is faster still (see `RsaSigner`). The browser keeps the pure-Rust code in `ccid`; the tests below hold the two to the same
//! answers.

use crate::fault::Error;
use ccid::keys::PublicKey;
use ring::signature::{self, UnparsedPublicKey};

/// `signature` (DER ECDSA for P-256, PKCS#1 v1.5 for RSA) over SHA-256 of `message`. The same
/// answer as `ccid::keys::PublicKey::verify_sha256`.
pub fn verify_sha256(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    match key {
        PublicKey::P256(k) => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, k.as_bytes())
                .verify(message, signature)
                .is_ok()
        }
        PublicKey::Rsa(k) => rsa_verify_sha256(k.modulus(), k.exponent(), message, signature),
    }
}

/// PKCS#1 v1.5 SHA-256 verification with the key given as modulus and exponent (big-endian).
/// Keys from 1024 bits up, like the token side accepts.
pub fn rsa_verify_sha256(n: &[u8], e: &[u8], message: &[u8], sig: &[u8]) -> bool {
    signature::RsaPublicKeyComponents { n, e }
        .verify(
            &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            message,
            sig,
        )
        .is_ok()
}

/// An RSA private key for PKCS#1 v1.5 SHA-256 signatures (the payment provider's notices, an
/// RSA CA's certificates). Through the system's OpenSSL, not ring: OpenSSL 3 has AVX-512 IFMA
/// code for RSA-2048 and signs in ≈ 0.37 ms where ring takes ≈ 0.8 ms on this machine (RSA
/// signing was the largest single cost of a benchmark renewal). Verification stays with ring.
pub struct RsaSigner(openssl::pkey::PKey<openssl::pkey::Private>);

impl RsaSigner {
    /// From PKCS#8 DER (what `rsa::pkcs8::EncodePrivateKey` writes).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, Error> {
        let key = openssl::pkey::PKey::private_key_from_pkcs8(der).map_err(Error::key)?;
        if key.id() != openssl::pkey::Id::RSA {
            return Err(Error::Key("not an RSA key".into()));
        }
        Ok(Self(key))
    }

    /// A key as the providers' tools write it: PEM (PKCS#8 or PKCS#1), the bare base64 body
    /// Alipay's key tool prints, or DER.
    pub fn from_key_file(bytes: &[u8]) -> Result<Self, Error> {
        let key = match key_file_der(bytes, "PRIVATE KEY")? {
            KeyFile::Pem => openssl::pkey::PKey::private_key_from_pem(bytes),
            KeyFile::Der(der) => openssl::pkey::PKey::private_key_from_der(&der),
        }
        .map_err(|_| Error::Key("not a private key (PEM, base64 or DER)".into()))?;
        if key.id() != openssl::pkey::Id::RSA || key.bits() < 2048 {
            return Err(Error::Key("not an RSA key of 2048 bits or more".into()));
        }
        Ok(Self(key))
    }

    /// The public half, to hand to whoever verifies (the sandbox provider).
    pub fn public_key(&self) -> RsaPublicKey {
        let rsa = self.0.rsa().expect("checked RSA at load");
        RsaPublicKey {
            n: rsa.n().to_vec(),
            e: rsa.e().to_vec(),
        }
    }

    /// A fresh 2048-bit key and its PKCS#8 DER (to be stored owner-only).
    pub fn generate() -> Result<(Self, zeroize::Zeroizing<Vec<u8>>), Error> {
        let rsa = openssl::rsa::Rsa::generate(2048).map_err(Error::key)?;
        let key = openssl::pkey::PKey::from_rsa(rsa).map_err(Error::key)?;
        let der = key.private_key_to_pkcs8().map_err(Error::key)?;
        Ok((Self(key), zeroize::Zeroizing::new(der)))
    }

    pub fn sign_sha256(&self, message: &[u8]) -> Vec<u8> {
        // Fails only when OpenSSL cannot allocate or its RNG (blinding) fails; neither yields a
        // signature, and an empty one is refused by every verifier.
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &self.0)
            .and_then(|mut s| s.sign_oneshot_to_vec(message))
            .unwrap_or_default()
    }
}

/// An RSA public key (modulus and exponent, big-endian) for PKCS#1 v1.5 SHA-256 checks: a
/// payment provider's, read from its PEM, base64 body, DER or certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaPublicKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

impl RsaPublicKey {
    pub fn from_key_file(bytes: &[u8]) -> Result<Self, Error> {
        let key = match key_file_der(bytes, "PUBLIC KEY")? {
            KeyFile::Pem if bytes.windows(11).any(|w| w == b"CERTIFICATE") => {
                openssl::x509::X509::from_pem(bytes).and_then(|c| c.public_key())
            }
            KeyFile::Pem => openssl::pkey::PKey::public_key_from_pem(bytes).or_else(|_| {
                openssl::rsa::Rsa::public_key_from_pem_pkcs1(bytes)
                    .and_then(openssl::pkey::PKey::from_rsa)
            }),
            KeyFile::Der(der) => openssl::pkey::PKey::public_key_from_der(&der),
        }
        .map_err(|_| Error::Key("not a public key (PEM, base64, DER or certificate)".into()))?;
        Self::from_pkey(&key)
    }

    pub fn from_pkey(key: &openssl::pkey::PKeyRef<openssl::pkey::Public>) -> Result<Self, Error> {
        let rsa = key
            .rsa()
            .map_err(|_| Error::Key("not an RSA public key".into()))?;
        if rsa.size() < 256 {
            return Err(Error::Key("an RSA key of fewer than 2048 bits".into()));
        }
        Ok(Self {
            n: rsa.n().to_vec(),
            e: rsa.e().to_vec(),
        })
    }

    pub fn verify_sha256(&self, message: &[u8], sig: &[u8]) -> bool {
        rsa_verify_sha256(&self.n, &self.e, message, sig)
    }
}

enum KeyFile {
    Pem,
    Der(zeroize::Zeroizing<Vec<u8>>),
}

/// Tells PEM from a bare base64 body (one line or many) from DER.
fn key_file_der(bytes: &[u8], what: &str) -> Result<KeyFile, Error> {
    use base64::Engine;
    let text = std::str::from_utf8(bytes).ok().map(str::trim);
    match text {
        Some(t) if t.starts_with("-----BEGIN") => Ok(KeyFile::Pem),
        Some(t) if !t.is_empty() => {
            let body: String = t.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map(|d| KeyFile::Der(zeroize::Zeroizing::new(d)))
                .map_err(|_| Error::Key(format!("not a {what} file: neither PEM nor base64")))
        }
        _ => Ok(KeyFile::Der(zeroize::Zeroizing::new(bytes.to_vec()))),
    }
}

/// A P-256 private key for ECDSA SHA-256 signatures (the CA's certificates, CRLs and OCSP
/// answers): ring signs ≈ 5× faster than the p256 crate.
pub struct EcdsaSigner(signature::EcdsaKeyPair);

impl EcdsaSigner {
    /// From the 32-byte scalar and the SEC1 uncompressed public point.
    pub fn p256(scalar: &[u8], public_uncompressed: &[u8]) -> Result<Self, Error> {
        signature::EcdsaKeyPair::from_private_key_and_public_key(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            scalar,
            public_uncompressed,
            &ring::rand::SystemRandom::new(),
        )
        .map(Self)
        .map_err(|e| Error::Key(format!("P-256 key: {e}")))
    }

    /// A DER ECDSA signature over SHA-256 of `message`; empty only if the system RNG fails
    /// (every verifier refuses an empty signature).
    pub fn sign_sha256(&self, message: &[u8]) -> Vec<u8> {
        self.0
            .sign(&ring::rand::SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccid::piv::Algorithm;
    use token::keys::PrivateKey;

    /// What a token answers to the renewal's signing step (hash on the host, private op on it).
    fn token_sign(key: &PrivateKey, msg: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(msg);
        let input = match key.algorithm() {
            Algorithm::EccP256 => digest.to_vec(),
            _ => ccid::keys::pkcs1_sha256_block(&digest, 256),
        };
        key.sign_raw(&input).expect("sign")
    }

    /// ring and the ccid (browser) code agree on genuine, altered and foreign signatures.
    #[test]
    fn ring_and_ccid_give_the_same_answers() {
        for alg in [Algorithm::EccP256, Algorithm::Rsa2048] {
            let key = PrivateKey::generate(alg).expect("key");
            let other = PrivateKey::generate(alg).expect("key");
            let public = key.public_key();
            for i in 0..8u8 {
                let msg = [b"renewal ".as_slice(), &[i; 40]].concat();
                let good = token_sign(&key, &msg);
                let mut bent = good.clone();
                let at = usize::from(i) * 7 % bent.len();
                bent[at] ^= 1 << (i % 8);
                let foreign = token_sign(&other, &msg);
                for (sig, want) in [(&good, true), (&bent, false), (&foreign, false)] {
                    assert_eq!(verify_sha256(&public, &msg, sig), want, "{alg:?} ring");
                    assert_eq!(public.verify_sha256(&msg, sig), want, "{alg:?} ccid");
                }
                assert!(!verify_sha256(&public, b"another message", &good));
                assert!(!verify_sha256(&public, &msg, &[]));
            }
        }
    }

    #[test]
    fn rsa_signatures_verify_with_the_rsa_crate() {
        use rsa::pkcs8::EncodePrivateKey;
        use sha2::Digest;
        let key =
            rsa::PrivateKey::new(&mut rand_core::UnwrapErr(getrandom::SysRng), 2048).expect("key");
        let signer = RsaSigner::from_pkcs8(key.to_pkcs8_der().expect("der").as_bytes())
            .expect("OpenSSL reads the rsa crate's PKCS#8");
        let sig = signer.sign_sha256(b"out_trade_no=P1&total_amount=300.00");
        let digest = sha2::Sha256::digest(b"out_trade_no=P1&total_amount=300.00");
        key.to_public_key()
            .verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest, &sig)
            .expect("the rsa crate accepts the signature");
        // PKCS#1 v1.5 is deterministic: both libraries must give the very same bytes.
        let theirs = key
            .sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest)
            .expect("rsa crate signs");
        assert_eq!(sig, theirs);
        // A key of another kind is refused when loaded, not at the first signature.
        let p256: p256::SecretKey =
            rsa::Generate::generate_from_rng(&mut rand_core::UnwrapErr(getrandom::SysRng));
        let p256_der = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&p256).expect("der");
        assert!(RsaSigner::from_pkcs8(p256_der.as_bytes()).is_err());
        assert!(RsaSigner::from_pkcs8(b"not a key").is_err());
    }

    #[test]
    fn ring_p256_signatures_verify_with_the_browser_code() {
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let secret: p256::SecretKey = rsa::Generate::generate_from_rng(&mut rng);
        let point = secret.public_key().to_sec1_bytes();
        let signer = EcdsaSigner::p256(&secret.to_bytes(), &point).expect("key");
        let public = PublicKey::from(secret.public_key());
        let sig = signer.sign_sha256(b"tbsCertificate");
        assert!(
            public.verify_sha256(b"tbsCertificate", &sig),
            "ccid accepts ring's"
        );
        assert!(!public.verify_sha256(b"tbsCertificatf", &sig));
        // A scalar that does not match the point is refused at load, not at signing.
        let other: p256::SecretKey = rsa::Generate::generate_from_rng(&mut rng);
        assert!(EcdsaSigner::p256(&other.to_bytes(), &point).is_err());
    }
}
