//! The issuing CA: a P-256 key (or RSA-2048, chosen when it is created) and a self-signed
//! certificate, created on first start. Renewals keep the subject (same DER) and extensions, take
//! a fresh random serial and the validity they paid for.

use crate::fault::Error;
use ccid::cert::{self, Issue};
use ccid::keys::PublicKey;
use ccid::piv::Algorithm;
use der::asn1::OctetString;
use der::{Decode, Encode};
use sha2::Digest;
use std::path::Path;
use std::str::FromStr;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints,
    CrlDistributionPoints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::Certificate;
use zeroize::Zeroizing;

const OID_SKI: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.5.29.14");
const OID_AKI: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.5.29.35");
const OID_AIA: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
const OID_CRL_DP: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.5.29.31");
const OID_AD_OCSP: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const OID_AD_CA_ISSUERS: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");
const OID_CRL_NUMBER: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("2.5.29.20");
const OID_REASON: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.5.29.21");

/// The CA's signing key; signatures are made by the `signer` fields (ring for P-256, OpenSSL for
/// RSA), the p256/rsa keys are kept for the public key and the file format.
pub enum CaKey {
    P256 {
        key: p256::ecdsa::SigningKey,
        signer: Box<crate::sig::EcdsaSigner>,
    },
    Rsa {
        key: Box<rsa::PrivateKey>,
        signer: crate::sig::RsaSigner,
    },
    /// In an HSM, signing there (`--ca-key-uri`).
    Pkcs11(Box<crate::hsm::Pkcs11Key>),
}

impl CaKey {
    fn algorithm(&self) -> Algorithm {
        match self {
            CaKey::P256 { .. } => Algorithm::EccP256,
            CaKey::Rsa { .. } => Algorithm::Rsa2048,
            CaKey::Pkcs11(k) => k.algorithm(),
        }
    }

    fn public(&self) -> Result<PublicKey, Error> {
        Ok(match self {
            CaKey::P256 { key: k, .. } => p256::PublicKey::from(k.verifying_key()).into(),
            CaKey::Rsa { key: k, .. } => {
                use rsa::traits::PublicKeyParts;
                PublicKey::Rsa(
                    ccid::keys::RsaPublicKey::new(
                        &k.n().to_be_bytes_trimmed_vartime(),
                        &k.e().to_be_bytes_trimmed_vartime(),
                    )
                    .map_err(Error::key)?,
                )
            }
            CaKey::Pkcs11(k) => k.public().clone(),
        })
    }

    /// A SHA-256 signature: ECDSA (DER) or RSASSA-PKCS1-v1_5.
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let sig = match self {
            CaKey::P256 { signer, .. } => signer.sign_sha256(data),
            CaKey::Rsa { signer, .. } => signer.sign_sha256(data),
            CaKey::Pkcs11(k) => k.sign(data)?,
        };
        if sig.is_empty() {
            return Err(Error::Signing(
                "the CA could not sign (system random number generator failed)".into(),
            ));
        }
        Ok(sig)
    }

    /// `ca.key`: hex of the P-256 scalar (as written since the first release), or PKCS#8 PEM.
    fn load(text: &str) -> Result<Self, Error> {
        if text.starts_with("-----BEGIN PRIVATE KEY-----") {
            use rsa::pkcs8::DecodePrivateKey;
            let key = rsa::PrivateKey::from_pkcs8_pem(text)
                .map_err(|e| Error::Key(format!("ca.key: {e}")))?;
            return Self::rsa(key);
        }
        let bytes =
            Zeroizing::new(decode_hex(text.trim()).ok_or(Error::Key("ca.key is not hex".into()))?);
        p256::ecdsa::SigningKey::from_slice(&bytes)
            .map_err(Error::key)
            .and_then(Self::p256)
    }

    fn p256(key: p256::ecdsa::SigningKey) -> Result<Self, Error> {
        let point = key.verifying_key().to_sec1_point(false);
        let signer = Box::new(crate::sig::EcdsaSigner::p256(
            &key.to_bytes(),
            point.as_bytes(),
        )?);
        Ok(CaKey::P256 { key, signer })
    }

    fn rsa(key: rsa::PrivateKey) -> Result<Self, Error> {
        use rsa::pkcs8::EncodePrivateKey;
        let der = key.to_pkcs8_der().map_err(Error::signing)?;
        let signer = crate::sig::RsaSigner::from_pkcs8(der.as_bytes())?;
        Ok(CaKey::Rsa {
            key: Box::new(key),
            signer,
        })
    }

    fn generate(alg: Algorithm) -> Result<(Self, Zeroizing<String>), Error> {
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        match alg {
            Algorithm::Rsa2048 => {
                use rsa::pkcs8::EncodePrivateKey;
                let k = rsa::PrivateKey::new(&mut rng, 2048).map_err(Error::signing)?;
                let pem = k
                    .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                    .map_err(Error::signing)?;
                Ok((Self::rsa(k)?, Zeroizing::new(pem.to_string())))
            }
            _ => {
                let secret: p256::SecretKey = rsa::Generate::generate_from_rng(&mut rng);
                let hex = Zeroizing::new(encode_hex(&secret.to_bytes()));
                Ok((Self::p256(p256::ecdsa::SigningKey::from(&secret))?, hex))
            }
        }
    }
}

pub struct Ca {
    key: CaKey,
    pub cert: Certificate,
    pub cert_der: Vec<u8>,
    public: PublicKey,
    key_id: Vec<u8>,
    /// Where relying parties find revocation status and this CA's certificate, written into each
    /// certificate issued (RFC 5280 §4.2.2.1 AIA, §4.2.1.13 CRL distribution points).
    locations: Vec<Extension>,
}

fn ext<T: Encode>(
    oid: der::oid::ObjectIdentifier,
    critical: bool,
    value: &T,
) -> Result<Extension, Error> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(Error::signing)?)
            .map_err(Error::signing)?,
    })
}

/// Key identifier: leftmost 160 bits of SHA-256 of the key bits (RFC 7093 §2 method 1).
pub fn key_id(key: &PublicKey) -> Vec<u8> {
    let spki = key.to_spki_der().unwrap_or_default();
    let bits = spki::SubjectPublicKeyInfoRef::from_der(&spki)
        .ok()
        .and_then(|s| s.subject_public_key.as_bytes().map(<[u8]>::to_vec))
        .unwrap_or_default();
    sha2::Sha256::digest(bits)[..20].to_vec()
}

/// A positive serial with 127 bits of entropy, minimal in DER (first byte 01..7F).
pub fn random_serial() -> Vec<u8> {
    let mut s = vec![0u8; 16];
    let _ = getrandom::fill(&mut s);
    s[0] = (s[0] & 0x7F) | 0x01;
    s
}

pub fn serial_hex(serial: &[u8]) -> String {
    serial.iter().map(|b| format!("{b:02X}")).collect()
}

impl Ca {
    /// Loads the CA from `dir`, creating it on first start with a key of `alg` (P-256 or
    /// RSA-2048; an existing CA keeps its key). Returns whether it was created.
    pub fn load_or_create(dir: &Path, now: i64, alg: Algorithm) -> Result<(Self, bool), Error> {
        Self::load_or_create_kind(dir, now, alg, false)
    }

    /// `load_or_create`, a demo CA when `demo` (its name says so: `OU=DEMO`) if it is created.
    pub fn load_or_create_kind(
        dir: &Path,
        now: i64,
        alg: Algorithm,
        demo: bool,
    ) -> Result<(Self, bool), Error> {
        let key_path = dir.join("ca.key");
        let cert_path = dir.join("ca.crt");
        let key = match (key_path.exists(), cert_path.exists()) {
            (true, true) => {
                let text =
                    Zeroizing::new(std::fs::read_to_string(&key_path).map_err(Error::signing)?);
                CaKey::load(&text)?
            }
            // Never a new CA over an existing certificate: its key may be in an HSM.
            (false, true) => {
                return Err(Error::Signing(format!(
                "{} has no ca.key beside it: is this CA's key in an HSM? Start with --ca-key-uri",
                cert_path.display()
            )))
            }
            _ => {
                let (key, stored) = CaKey::generate(alg)?;
                std::fs::create_dir_all(dir).map_err(Error::signing)?;
                write_private(&key_path, &stored)?;
                key
            }
        };
        Self::with_key(key, dir, now, demo)
    }

    /// The CA with its key in a PKCS #11 module (`uri`, see `hsm`), generated there on first
    /// start; `ca.crt` in `dir` is created then and must match the key after. Returns whether the
    /// CA was created.
    pub fn with_hsm(
        dir: &Path,
        now: i64,
        alg: Algorithm,
        uri: &str,
        pin: &str,
    ) -> Result<(Self, bool), Error> {
        if dir.join("ca.key").exists() {
            return Err(Error::Signing(
                "this CA's key is in ca.key; an HSM CA's data directory has none".into(),
            ));
        }
        let uri = crate::hsm::Uri::parse(uri)?;
        let key = CaKey::Pkcs11(Box::new(crate::hsm::Pkcs11Key::open_or_generate(
            &uri, pin, alg,
        )?));
        Self::with_key(key, dir, now, false)
    }

    /// The CA of `key` and `ca.crt` in `dir`, which must match it; created (self-signed) when
    /// missing. Returns whether it was created.
    fn with_key(key: CaKey, dir: &Path, now: i64, demo: bool) -> Result<(Self, bool), Error> {
        let cert_path = dir.join("ca.crt");
        if cert_path.exists() {
            let cert_der = std::fs::read(&cert_path).map_err(Error::signing)?;
            return Ok((Self::from_parts(key, cert_der)?, false));
        }
        let der = self_signed(&key, now, demo)?;
        std::fs::create_dir_all(dir).map_err(Error::signing)?;
        std::fs::write(&cert_path, &der).map_err(Error::signing)?;
        Ok((Self::from_parts(key, der)?, true))
    }

    fn from_parts(key: CaKey, cert_der: Vec<u8>) -> Result<Self, Error> {
        let cert = Certificate::from_der(&cert_der).map_err(Error::signing)?;
        let public = key.public()?;
        if cert::public_key(&cert).map_err(Error::signing)? != public {
            return Err(Error::Signing("ca.crt does not match the CA's key".into()));
        }
        let key_id = key_id(&public);
        Ok(Self {
            key,
            cert,
            cert_der,
            public,
            key_id,
            locations: Vec::new(),
        })
    }

    /// Certificates issued from now on point at `base` (this server's public URL): OCSP at
    /// `/api/v1/ocsp`, the CA certificate at `/api/v1/ca`, the CRL at `/api/v1/crl`.
    pub fn publish_at(&mut self, base: &str) -> Result<(), Error> {
        let uri = |path: &str| {
            der::asn1::Ia5String::new(&format!("{}/api/v1/{path}", base.trim_end_matches('/')))
                .map(GeneralName::UniformResourceIdentifier)
                .map_err(|e| Error::Signing(format!("public URL {base}: {e}")))
        };
        let aia = AuthorityInfoAccessSyntax(vec![
            AccessDescription {
                access_method: OID_AD_OCSP,
                access_location: uri("ocsp")?,
            },
            AccessDescription {
                access_method: OID_AD_CA_ISSUERS,
                access_location: uri("ca")?,
            },
        ]);
        let dp = CrlDistributionPoints(vec![DistributionPoint {
            distribution_point: Some(DistributionPointName::FullName(vec![uri("crl")?])),
            reasons: None,
            crl_issuer: None,
        }]);
        self.locations = vec![ext(OID_AIA, false, &aia)?, ext(OID_CRL_DP, false, &dp)?];
        Ok(())
    }

    pub fn name(&self) -> &Name {
        self.cert.tbs_certificate().subject()
    }

    /// A demo CA (created by `--demo`): everything it issues is for trying the product out.
    pub fn is_demo(&self) -> bool {
        self.name()
            .to_string()
            .split(',')
            .any(|rdn| rdn == DEMO_MARK)
    }

    /// The end of the CA certificate's own validity (Unix seconds): nothing it issues outlives it.
    pub fn not_after(&self) -> i64 {
        self.cert
            .tbs_certificate()
            .validity()
            .not_after
            .to_unix_duration()
            .as_secs()
            .try_into()
            .unwrap_or(i64::MAX)
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key identifier certificates carry in their AuthorityKeyIdentifier.
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// Whether `cert` was issued by this CA (issuer name and signature).
    pub fn issued(&self, cert: &Certificate) -> bool {
        cert.tbs_certificate().issuer() == self.name()
            && cert::signed_by_with(cert, &self.public, crate::sig::verify_sha256)
    }

    /// An end-entity certificate for a token key (first issue, demo tokens).
    pub fn issue_end_entity(
        &self,
        subject: &Name,
        key: &PublicKey,
        not_before: i64,
        not_after: i64,
    ) -> Result<Vec<u8>, Error> {
        let extensions: Vec<Extension> = vec![
            ext(
                OID_BC,
                true,
                &BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                },
            )?,
            ext(
                OID_KU,
                true,
                &KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation),
            )?,
            self.ski(key)?,
            self.aki()?,
        ]
        .into_iter()
        .chain(self.locations.iter().cloned())
        .collect();
        sign_with(
            &self.key,
            Issue {
                serial: &random_serial(),
                subject,
                issuer: self.name(),
                not_before,
                not_after,
                public_key: key,
                extensions,
            },
        )
    }

    /// A renewal of `old`: same subject bytes and extensions (key identifiers recomputed), a new
    /// serial, the given validity, and `key` (the same key, or a new one under a rekey policy).
    pub fn issue_renewal(
        &self,
        old: &Certificate,
        key: &PublicKey,
        not_before: i64,
        not_after: i64,
        serial: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let mut extensions: Vec<Extension> = old
            .tbs_certificate()
            .extensions()
            .map(|e| {
                e.iter()
                    .filter(|x| ![OID_SKI, OID_AKI, OID_AIA, OID_CRL_DP].contains(&x.extn_id))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        extensions.push(self.ski(key)?);
        extensions.push(self.aki()?);
        extensions.extend(self.locations.iter().cloned());
        sign_with(
            &self.key,
            Issue {
                serial,
                subject: old.tbs_certificate().subject(),
                issuer: self.name(),
                not_before,
                not_after: not_after.min(self.not_after()),
                public_key: key,
                extensions,
            },
        )
    }

    fn ski(&self, key: &PublicKey) -> Result<Extension, Error> {
        ext(
            OID_SKI,
            false,
            &SubjectKeyIdentifier(OctetString::new(key_id(key)).map_err(Error::signing)?),
        )
    }

    fn aki(&self) -> Result<Extension, Error> {
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(self.key_id.clone()).map_err(Error::signing)?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        ext(OID_AKI, false, &aki)
    }

    /// A CRL (RFC 5280 §5) of `revoked` — (serial, revocation time, reason code) — numbered
    /// `number`, valid from `now` for `next_update_secs`.
    pub fn crl(
        &self,
        revoked: &[(Vec<u8>, i64, u8)],
        number: u64,
        now: i64,
        next_update_secs: i64,
    ) -> Result<Vec<u8>, Error> {
        use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
        type Crl = CertificateList<x509_cert::certificate::Rfc5280>;
        let algorithm = cert::signature_algorithm(self.key.algorithm()).map_err(Error::signing)?;
        let entries = revoked
            .iter()
            .map(|(serial, at, reason)| {
                Ok(RevokedCert {
                    serial_number: x509_cert::serial_number::SerialNumber::<
                        x509_cert::certificate::Rfc5280,
                    >::new(serial)
                    .map_err(Error::signing)?,
                    revocation_date: cert::time_from_unix(*at).map_err(Error::signing)?,
                    // reasonCode (RFC 5280 §5.3.1): ENUMERATED, left out for unspecified
                    // (0), which the RFC says should not be sent.
                    crl_entry_extensions: match *reason {
                        0 => None,
                        code => Some(vec![Extension {
                            extn_id: OID_REASON,
                            critical: false,
                            extn_value: OctetString::new(vec![0x0A, 0x01, code])
                                .map_err(Error::signing)?,
                        }]),
                    },
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let tbs = TbsCertList {
            version: x509_cert::Version::V2,
            signature: algorithm.clone(),
            issuer: self.name().clone(),
            this_update: cert::time_from_unix(now).map_err(Error::signing)?,
            next_update: Some(
                cert::time_from_unix(now + next_update_secs).map_err(Error::signing)?,
            ),
            revoked_certificates: (!entries.is_empty()).then_some(entries),
            crl_extensions: Some(vec![
                self.aki()?,
                ext(
                    OID_CRL_NUMBER,
                    false,
                    &der::asn1::Uint::new(&number.to_be_bytes()).map_err(Error::signing)?,
                )?,
            ]),
        };
        let tbs_der = tbs.to_der().map_err(Error::signing)?;
        let signature = self.key.sign(&tbs_der)?;
        Crl {
            tbs_cert_list: tbs,
            signature_algorithm: algorithm,
            signature: der::asn1::BitString::from_bytes(&signature).map_err(Error::signing)?,
        }
        .to_der()
        .map_err(Error::signing)
    }

    /// The CA key's subjectPublicKey bits (what OCSP's issuerKeyHash is taken over).
    pub fn public_key_bits(&self) -> Vec<u8> {
        self.cert
            .tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes()
            .to_vec()
    }

    /// The CA key's signature algorithm identifier (for objects signed with [`Ca::sign_tbs`]).
    pub fn signature_algorithm(&self) -> Result<spki::AlgorithmIdentifierOwned, Error> {
        cert::signature_algorithm(self.key.algorithm()).map_err(Error::signing)
    }

    /// Signs the DER of a to-be-signed structure with the CA key.
    pub fn sign_tbs(&self, tbs: &[u8]) -> Result<Vec<u8>, Error> {
        self.key.sign(tbs)
    }

    /// Raw signing rate measure for the benchmark: one signature over `data`.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        self.key.sign(data).unwrap_or_default()
    }
}

const OID_KU: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_BC: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.5.29.19");

/// What marks a demo CA's name. The demo hands certificates to anyone who asks; a relying party
/// must be able to tell them from real ones at a glance.
pub const DEMO_MARK: &str = "OU=DEMO";

/// The CA's self-signed certificate, valid ten years.
fn self_signed(key: &CaKey, now: i64, demo: bool) -> Result<Vec<u8>, Error> {
    let name = if demo {
        format!("CN=certrenew 演示 Demo CA (not for real use),{DEMO_MARK},O=certrenew,C=CN")
    } else {
        "CN=certrenew Issuing CA,O=certrenew,C=CN".to_string()
    };
    let name = Name::from_str(&name).map_err(Error::signing)?;
    let public = key.public()?;
    let kid = key_id(&public);
    let extensions: Vec<Extension> = vec![
        ext(
            OID_BC,
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: Some(0),
            },
        )?,
        ext(
            OID_KU,
            true,
            &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
        )?,
        ext(
            OID_SKI,
            false,
            &SubjectKeyIdentifier(OctetString::new(kid).map_err(Error::signing)?),
        )?,
    ];
    sign_with(
        key,
        Issue {
            serial: &random_serial(),
            subject: &name,
            issuer: &name,
            not_before: now - 3600,
            not_after: now + 10 * 365 * 86_400,
            public_key: &public,
            extensions,
        },
    )
}

fn sign_with(key: &CaKey, params: Issue<'_>) -> Result<Vec<u8>, Error> {
    cert::issue(params, key.algorithm(), |tbs| {
        key.sign(tbs).map_err(|e| e.to_string())
    })
    .map_err(Error::signing)
}

fn write_private(path: &Path, contents: &str) -> Result<(), Error> {
    write_private_bytes(path, contents.as_bytes())
}

/// Writes a secret file readable by its owner only.
pub(crate) fn write_private_bytes(path: &Path, contents: &[u8]) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(Error::signing)?;
        f.write_all(contents).map_err(Error::signing)
    }
    #[cfg(not(unix))]
    std::fs::write(path, contents).map_err(Error::signing)
}

pub fn encode_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
