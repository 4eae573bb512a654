//! Certificates read from a token: a summary the UI shows, and PKCS#10 requests signed on the token.

use crate::card::Card;
use crate::keys::PublicKey;
use crate::piv::{Algorithm, Piv, PivError, Slot};
use der::asn1::BitString;
use der::{Decode, Encode, Tagged};
use spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo, Version};
use x509_cert::Certificate;

pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

const SECONDS_PER_DAY: i64 = 86_400;

/// What the UI shows of a certificate (W3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertSummary {
    pub subject: String,
    pub common_name: Option<String>,
    pub issuer: String,
    /// Upper-case hex, no separators.
    pub serial: String,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    pub key: Algorithm,
    /// Whole days until notAfter (negative once expired).
    pub days_left: i64,
    pub expired: bool,
    pub not_yet_valid: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("not a valid certificate: {0}")]
    Der(String),
    #[error("unsupported key: {0}")]
    Key(String),
    #[error(transparent)]
    Piv(#[from] PivError),
}

impl From<der::Error> for CertError {
    fn from(e: der::Error) -> Self {
        CertError::Der(e.to_string())
    }
}

pub fn parse(der: &[u8]) -> Result<Certificate, CertError> {
    Ok(Certificate::from_der(der)?)
}

pub fn public_key(cert: &Certificate) -> Result<PublicKey, CertError> {
    let spki = cert.tbs_certificate().subject_public_key_info().to_der()?;
    PublicKey::from_spki_der(&spki).map_err(CertError::Key)
}

/// Summarises a DER certificate as of `now` (Unix seconds; the browser passes `Date.now()`).
pub fn summarize(der: &[u8], now: i64) -> Result<CertSummary, CertError> {
    let cert = parse(der)?;
    let tbs = cert.tbs_certificate();
    let not_before = unix(tbs.validity().not_before.to_unix_duration());
    let not_after = unix(tbs.validity().not_after.to_unix_duration());
    let key = public_key(&cert)?.algorithm();
    let remaining = not_after - now;
    Ok(CertSummary {
        subject: name_to_string(tbs.subject()),
        common_name: attribute(tbs.subject(), CN),
        issuer: name_to_string(tbs.issuer()),
        serial: tbs
            .serial_number()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect(),
        not_before,
        not_after,
        key,
        days_left: remaining.div_euclid(SECONDS_PER_DAY),
        expired: now >= not_after,
        not_yet_valid: now < not_before,
    })
}

fn unix(d: core::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

fn short_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    Some(match oid.to_string().as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.5" => "serialNumber",
        "2.5.4.97" => "organizationIdentifier",
        "1.2.840.113549.1.9.1" => "E",
        _ => return None,
    })
}

/// Decodes a directory string keeping Chinese names intact (UTF8String and BMPString included).
fn decode_string(value: &der::Any) -> String {
    let bytes = value.value();
    match value.tag() {
        der::Tag::BmpString => {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        der::Tag::Utf8String | der::Tag::PrintableString | der::Tag::Ia5String => {
            String::from_utf8_lossy(bytes).into_owned()
        }
        // TeletexString and others: treat as Latin-1, as most software does.
        _ => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

fn attribute(name: &Name, oid: ObjectIdentifier) -> Option<String> {
    name.iter()
        .find(|a| a.oid == oid)
        .map(|a| decode_string(&a.value))
}

/// `CN=张三, O=…, C=CN`, most specific first as people read it.
pub fn name_to_string(name: &Name) -> String {
    let mut parts: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|a| {
                    let key = short_name(&a.oid)
                        .map(str::to_owned)
                        .unwrap_or_else(|| a.oid.to_string());
                    format!("{key}={}", decode_string(&a.value))
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    parts.reverse();
    parts.join(", ")
}

/// The signatureAlgorithm of a SHA-256 signature by a key of `alg` (certificates, requests, CRLs).
pub fn signature_algorithm(alg: Algorithm) -> Result<AlgorithmIdentifierOwned, CertError> {
    match alg {
        Algorithm::EccP256 => Ok(AlgorithmIdentifierOwned {
            oid: ECDSA_WITH_SHA256,
            parameters: None,
        }),
        Algorithm::Rsa2048 => Ok(AlgorithmIdentifierOwned {
            oid: SHA256_WITH_RSA,
            parameters: Some(der::asn1::Null.into()),
        }),
        other => Err(CertError::Key(format!("{other:?} cannot sign"))),
    }
}

/// Builds a PKCS#10 request for `subject` and `key`, signed by the token's key in `slot`.
/// The PIN must already be verified.
pub async fn build_csr<C: Card>(
    piv: &mut Piv<C>,
    slot: Slot,
    subject: &Name,
    key: &PublicKey,
) -> Result<Vec<u8>, CertError> {
    let spki = SubjectPublicKeyInfoOwned::from_der(&key.to_spki_der().map_err(CertError::Key)?)?;
    let info = CertReqInfo {
        version: Version::V1,
        subject: subject.clone(),
        public_key: spki,
        attributes: Default::default(),
    };
    let tbs = info.to_der()?;
    let sig = piv.sign_sha256(slot, key.algorithm(), &tbs).await?;
    let req = CertReq {
        info,
        algorithm: signature_algorithm(key.algorithm())?,
        signature: BitString::from_bytes(&sig)?,
    };
    Ok(req.to_der()?)
}

/// A PKCS#10 request, parsed and its signature algorithm matched to its key, signature unchecked.
pub struct Csr {
    req: CertReq,
    key: PublicKey,
}

impl Csr {
    pub fn parse(der: &[u8]) -> Result<Self, CertError> {
        let req = CertReq::from_der(der)?;
        let key =
            PublicKey::from_spki_der(&req.info.public_key.to_der()?).map_err(CertError::Key)?;
        let expected = signature_algorithm(key.algorithm())?;
        if req.algorithm.oid != expected.oid {
            return Err(CertError::Key(
                "signature algorithm does not match the key".into(),
            ));
        }
        Ok(Self { req, key })
    }

    pub fn subject(&self) -> &Name {
        &self.req.info.subject
    }

    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The self-signature: proof that whoever made the request holds the key.
    pub fn verify_signature(&self) -> Result<(), CertError> {
        self.verify_signature_with(PublicKey::verify_sha256)
    }

    /// `verify_signature` with another implementation of the same check (the server's is faster).
    pub fn verify_signature_with(
        &self,
        verify: impl Fn(&PublicKey, &[u8], &[u8]) -> bool,
    ) -> Result<(), CertError> {
        let sig = self
            .req
            .signature
            .as_bytes()
            .ok_or(CertError::Der("signature has unused bits".into()))?;
        if !verify(&self.key, &self.req.info.to_der()?, sig) {
            return Err(CertError::Key(
                "the request's signature does not verify".into(),
            ));
        }
        Ok(())
    }
}

/// Parses a PKCS#10 request and checks its self-signature; returns its subject and key.
pub fn verify_csr(der: &[u8]) -> Result<(Name, PublicKey), CertError> {
    let csr = Csr::parse(der)?;
    csr.verify_signature()?;
    Ok((csr.req.info.subject, csr.key))
}

/// What a CA puts into a certificate it issues.
pub struct Issue<'a> {
    /// Positive, DER-minimal serial number bytes.
    pub serial: &'a [u8],
    pub subject: &'a Name,
    pub issuer: &'a Name,
    pub not_before: i64,
    pub not_after: i64,
    pub public_key: &'a PublicKey,
    pub extensions: Vec<x509_cert::ext::Extension>,
}

/// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime after.
pub fn time_from_unix(secs: i64) -> Result<x509_cert::time::Time, CertError> {
    let secs = u64::try_from(secs).map_err(|_| CertError::Der("time before 1970".into()))?;
    let dt = der::DateTime::from_unix_duration(core::time::Duration::from_secs(secs))?;
    Ok(if dt.year() < 2050 {
        x509_cert::time::Time::UtcTime(der::asn1::UtcTime::from_date_time(dt)?)
    } else {
        x509_cert::time::Time::GeneralTime(der::asn1::GeneralizedTime::from_date_time(dt))
    })
}

/// TBSCertificate (RFC 5280 §4.1) as we issue it: always v3, no unique identifiers.
#[derive(der::Sequence)]
struct Tbs {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: u8,
    serial_number: x509_cert::serial_number::SerialNumber,
    signature: AlgorithmIdentifierOwned,
    issuer: Name,
    validity: x509_cert::time::Validity,
    subject: Name,
    subject_public_key_info: SubjectPublicKeyInfoOwned,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    extensions: Option<x509_cert::ext::Extensions>,
}

/// Builds and signs a certificate. `sign` receives the TBSCertificate DER and returns the
/// signature made with the issuer's key of algorithm `issuer_alg` (SHA-256).
pub fn issue(
    params: Issue<'_>,
    issuer_alg: Algorithm,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, CertError> {
    let algorithm = signature_algorithm(issuer_alg)?;
    let spki = SubjectPublicKeyInfoOwned::from_der(
        &params.public_key.to_spki_der().map_err(CertError::Key)?,
    )?;
    let tbs = Tbs {
        version: 2,
        serial_number: x509_cert::serial_number::SerialNumber::new(params.serial)?,
        signature: algorithm.clone(),
        issuer: params.issuer.clone(),
        validity: x509_cert::time::Validity::new(
            time_from_unix(params.not_before)?,
            time_from_unix(params.not_after)?,
        ),
        subject: params.subject.clone(),
        subject_public_key_info: spki,
        extensions: if params.extensions.is_empty() {
            None
        } else {
            Some(params.extensions)
        },
    };
    let tbs_der = tbs.to_der()?;
    let sig = sign(&tbs_der).map_err(CertError::Key)?;
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }.
    let mut body = tbs_der;
    body.extend_from_slice(&algorithm.to_der()?);
    body.extend_from_slice(&BitString::from_bytes(&sig)?.to_der()?);
    let mut der = vec![0x30];
    der.extend_from_slice(&der::Length::try_from(body.len())?.to_der()?);
    der.extend_from_slice(&body);
    parse(&der)?;
    Ok(der)
}

/// Whether `cert` carries a valid signature by `issuer_key`.
pub fn signed_by(cert: &Certificate, issuer_key: &PublicKey) -> bool {
    signed_by_with(cert, issuer_key, PublicKey::verify_sha256)
}

/// `signed_by` with another implementation of the signature check.
pub fn signed_by_with(
    cert: &Certificate,
    issuer_key: &PublicKey,
    verify: impl Fn(&PublicKey, &[u8], &[u8]) -> bool,
) -> bool {
    let Ok(tbs) = cert.tbs_certificate().to_der() else {
        return false;
    };
    let Some(sig) = cert.signature().as_bytes() else {
        return false;
    };
    let expected = match issuer_key.algorithm() {
        Algorithm::EccP256 => ECDSA_WITH_SHA256,
        _ => SHA256_WITH_RSA,
    };
    cert.signature_algorithm().oid == expected && verify(issuer_key, &tbs, sig)
}
