//! OCSP (RFC 6960): "is this certificate of ours good, revoked or unknown", signed by the CA.
//! Relying parties that check signatures online (the trading platform among them) ask this rather
//! than download the CRL. Requests name certificates by CertID: hashes of the issuer's name and
//! key (SHA-1 by default in OpenSSL and browsers, SHA-256 accepted) and the serial number.

use crate::fault::Error;
use der::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use der::{Choice, Decode, Encode, Enumerated, Sequence};
use sha2::Digest;
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extension;
use x509_cert::name::Name;

const OID_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const OID_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// More certificates in one request than any client sends; bounds the work per request.
pub const MAX_REQUESTS: usize = 32;
/// How long an answer stays valid (nextUpdate − thisUpdate); clients and HTTP caches keep it so
/// long (RFC 5019 §6).
pub const NEXT_UPDATE_SECS: i64 = 3600;

#[derive(Sequence)]
struct OcspRequest {
    tbs_request: TbsRequest,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    optional_signature: Option<der::Any>,
}

#[derive(Sequence)]
struct TbsRequest {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    version: Option<u8>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    requestor_name: Option<der::Any>,
    request_list: Vec<Request>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    request_extensions: Option<Vec<Extension>>,
}

#[derive(Sequence)]
struct Request {
    req_cert: CertId,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    single_request_extensions: Option<Vec<Extension>>,
}

#[derive(Clone, Sequence)]
pub struct CertId {
    hash_algorithm: AlgorithmIdentifierOwned,
    issuer_name_hash: OctetString,
    issuer_key_hash: OctetString,
    serial_number: x509_cert::serial_number::SerialNumber,
}

impl CertId {
    /// The serial as `certificates.serial` holds it (uppercase hex of the DER INTEGER's bytes).
    pub fn serial_hex(&self) -> String {
        crate::ca::serial_hex(self.serial_number.as_bytes())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enumerated)]
#[repr(u32)]
enum ResponseStatus {
    Successful = 0,
    MalformedRequest = 1,
    InternalError = 2,
    TryLater = 3,
}

#[derive(Sequence)]
struct OcspResponse {
    response_status: ResponseStatus,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    response_bytes: Option<ResponseBytes>,
}

#[derive(Sequence)]
struct ResponseBytes {
    response_type: ObjectIdentifier,
    response: OctetString,
}

#[derive(Sequence)]
struct BasicOcspResponse {
    tbs_response_data: ResponseData,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
}

#[derive(Sequence)]
struct ResponseData {
    responder_id: ResponderId,
    produced_at: GeneralizedTime,
    responses: Vec<SingleResponse>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    response_extensions: Option<Vec<Extension>>,
}

#[derive(Choice)]
enum ResponderId {
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", constructed = "true")]
    ByName(Name),
}

#[derive(Sequence)]
struct SingleResponse {
    cert_id: CertId,
    cert_status: CertStatus,
    this_update: GeneralizedTime,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    next_update: Option<GeneralizedTime>,
}

#[derive(Choice)]
enum CertStatus {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    Good(Null),
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    Revoked(RevokedInfo),
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT")]
    Unknown(Null),
}

#[derive(Sequence)]
struct RevokedInfo {
    revocation_time: GeneralizedTime,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    revocation_reason: Option<CrlReason>,
}

/// CRLReason (RFC 5280 §5.3.1), the codes `certificates.revocation_reason` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enumerated)]
#[repr(u32)]
enum CrlReason {
    Unspecified = 0,
    KeyCompromise = 1,
    CaCompromise = 2,
    AffiliationChanged = 3,
    Superseded = 4,
    CessationOfOperation = 5,
    CertificateHold = 6,
    RemoveFromCrl = 8,
    PrivilegeWithdrawn = 9,
    AaCompromise = 10,
}

impl CrlReason {
    fn from_code(code: u8) -> Self {
        match code {
            1 => Self::KeyCompromise,
            2 => Self::CaCompromise,
            3 => Self::AffiliationChanged,
            4 => Self::Superseded,
            5 => Self::CessationOfOperation,
            6 => Self::CertificateHold,
            8 => Self::RemoveFromCrl,
            9 => Self::PrivilegeWithdrawn,
            10 => Self::AaCompromise,
            _ => Self::Unspecified,
        }
    }
}

/// What the CA knows about one serial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Good,
    Revoked { at: i64, reason: u8 },
    Unknown,
}

/// A parsed request: the certificates asked about and the nonce to echo.
pub struct Parsed {
    pub ids: Vec<CertId>,
    nonce: Option<Extension>,
}

impl Parsed {
    /// A nonce asks for a fresh answer; without one a pre-produced answer will do (RFC 5019).
    pub fn has_nonce(&self) -> bool {
        self.nonce.is_some()
    }
}

/// Answers to requests without a nonce, reused for `FRESH_SECS` (RFC 5019 §2.2 lets a responder
/// pre-produce them): a client polling one certificate, or a flood of the same request, costs a
/// signature a minute instead of one each — which matters when the CA key is in a network HSM.
/// Revocations through this server clear it at once; those through another server sharing the
/// database are seen within `FRESH_SECS` (clients keep any answer until its nextUpdate anyway).
#[derive(Default)]
pub struct Cache(std::sync::Mutex<Entries>);

#[derive(Default)]
pub struct Entries {
    map: std::collections::HashMap<Vec<u8>, Cached>,
    /// Counts the clears: an answer looked up before a revocation is not stored after it.
    generation: u64,
}

/// A cached answer: when it was produced, and the DER.
#[derive(Clone)]
pub struct Cached {
    pub produced_at: i64,
    pub der: std::sync::Arc<[u8]>,
}

impl Cache {
    pub const FRESH_SECS: i64 = 60;
    /// Bounds the memory: past this many different requests the oldest answers go.
    pub const MAX_ENTRIES: usize = 10_000;

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Nothing here can be left half-changed by a panic: a poisoned map is still valid.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer to exactly this request, if produced less than `FRESH_SECS` before `now`.
    pub fn get(&self, request: &[u8], now: i64) -> Option<Cached> {
        self.entries()
            .map
            .get(request)
            .filter(|c| (0..Self::FRESH_SECS).contains(&(now - c.produced_at)))
            .cloned()
    }

    /// Taken before the statuses are looked up, handed to `put` with the answer.
    pub fn generation(&self) -> u64 {
        self.entries().generation
    }

    /// Stores an answer built from statuses read at `generation`, unless a revocation came since.
    pub fn put(&self, request: &[u8], answer: Cached, generation: u64) {
        let mut e = self.entries();
        if e.generation != generation {
            return;
        }
        if e.map.len() >= Self::MAX_ENTRIES && !e.map.contains_key(request) {
            let now = answer.produced_at;
            e.map.retain(|_, c| now - c.produced_at < Self::FRESH_SECS);
            if e.map.len() >= Self::MAX_ENTRIES {
                e.map.clear();
            }
        }
        e.map.insert(request.to_vec(), answer);
    }

    /// After a revocation: no answer given before it may be given again.
    pub fn clear(&self) {
        let mut e = self.entries();
        e.map.clear();
        e.generation += 1;
    }
}

/// RFC 8954: a nonce is 1 to 32 octets (an OCTET STRING inside the extension's value; a few
/// clients put the bytes there bare). Longer ones are refused, not echoed.
pub const MAX_NONCE: usize = 32;

fn nonce_fits(value: &[u8]) -> bool {
    let len = OctetString::from_der(value).map_or(value.len(), |inner| inner.as_bytes().len());
    (1..=MAX_NONCE).contains(&len)
}

/// Parses a DER OCSPRequest; `None` when it is malformed or asks about too many certificates.
pub fn parse(der_bytes: &[u8]) -> Option<Parsed> {
    let req = OcspRequest::from_der(der_bytes).ok()?;
    let list = req.tbs_request.request_list;
    if list.is_empty() || list.len() > MAX_REQUESTS {
        return None;
    }
    let nonce = req
        .tbs_request
        .request_extensions
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.extn_id == OID_NONCE);
    if nonce
        .as_ref()
        .is_some_and(|n| !nonce_fits(n.extn_value.as_bytes()))
    {
        return None;
    }
    Some(Parsed {
        ids: list.into_iter().map(|r| r.req_cert).collect(),
        nonce,
    })
}

/// Whether `id` names a certificate issued under `issuer_name` / `issuer_key_bits` (the CA's DER
/// name and the bits of its public key), hashed with SHA-1 or SHA-256.
pub fn names_issuer(id: &CertId, issuer_name: &[u8], issuer_key_bits: &[u8]) -> bool {
    let (name, key): (Vec<u8>, Vec<u8>) = match id.hash_algorithm.oid {
        OID_SHA1 => (
            sha1::Sha1::digest(issuer_name).to_vec(),
            sha1::Sha1::digest(issuer_key_bits).to_vec(),
        ),
        OID_SHA256 => (
            sha2::Sha256::digest(issuer_name).to_vec(),
            sha2::Sha256::digest(issuer_key_bits).to_vec(),
        ),
        _ => return false,
    };
    id.issuer_name_hash.as_bytes() == name && id.issuer_key_hash.as_bytes() == key
}

fn time(t: i64) -> Result<GeneralizedTime, Error> {
    let secs = u64::try_from(t).map_err(|_| Error::Signing("time before 1970".into()))?;
    GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(secs))
        .map_err(Error::signing)
}

/// A signed successful response for `answers`, valid for `next_update_secs`; `sign` signs the
/// ResponseData DER with the CA key of `algorithm`.
pub fn respond(
    parsed: &Parsed,
    answers: &[Status],
    responder: &Name,
    algorithm: AlgorithmIdentifierOwned,
    now: i64,
    next_update_secs: i64,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, Error>,
) -> Result<Vec<u8>, Error> {
    let this_update = time(now)?;
    let next_update = time(now + next_update_secs)?;
    let responses = parsed
        .ids
        .iter()
        .zip(answers)
        .map(|(id, status)| {
            Ok(SingleResponse {
                cert_id: id.clone(),
                cert_status: match *status {
                    Status::Good => CertStatus::Good(Null),
                    Status::Unknown => CertStatus::Unknown(Null),
                    Status::Revoked { at, reason } => CertStatus::Revoked(RevokedInfo {
                        revocation_time: time(at)?,
                        // Unspecified is left out, as on the CRL (RFC 5280 §5.3.1).
                        revocation_reason: (reason != 0).then(|| CrlReason::from_code(reason)),
                    }),
                },
                this_update,
                next_update: Some(next_update),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let data = ResponseData {
        responder_id: ResponderId::ByName(responder.clone()),
        produced_at: this_update,
        responses,
        response_extensions: parsed.nonce.clone().map(|n| vec![n]),
    };
    let tbs = data.to_der().map_err(Error::signing)?;
    let signature = sign(&tbs)?;
    let basic = BasicOcspResponse {
        tbs_response_data: data,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&signature).map_err(Error::signing)?,
    };
    OcspResponse {
        response_status: ResponseStatus::Successful,
        response_bytes: Some(ResponseBytes {
            response_type: OID_BASIC,
            response: OctetString::new(basic.to_der().map_err(Error::signing)?)
                .map_err(Error::signing)?,
        }),
    }
    .to_der()
    .map_err(Error::signing)
}

/// The unsigned answer to a request that could not be parsed.
pub fn malformed() -> Vec<u8> {
    error_response(ResponseStatus::MalformedRequest)
}

/// The unsigned answer when the responder failed.
pub fn internal_error() -> Vec<u8> {
    error_response(ResponseStatus::InternalError)
}

/// The unsigned answer to a client asking for more fresh signatures than it may.
pub fn try_later() -> Vec<u8> {
    error_response(ResponseStatus::TryLater)
}

fn error_response(status: ResponseStatus) -> Vec<u8> {
    OcspResponse {
        response_status: status,
        response_bytes: None,
    }
    .to_der()
    .unwrap_or_default()
}

/// The CA's OCSP response (RFC 6960) for `parsed`, one status per certificate asked about, valid
/// for an hour; requests naming another issuer get "unknown".
pub fn answer(
    ca: &crate::ca::Ca,
    parsed: &Parsed,
    status: impl Fn(&str) -> Status,
    now: i64,
) -> Result<Vec<u8>, Error> {
    let name = ca.name().to_der().map_err(Error::signing)?;
    let key_bits = ca.public_key_bits();
    let answers: Vec<_> = parsed
        .ids
        .iter()
        .map(|id| {
            if names_issuer(id, &name, &key_bits) {
                status(&id.serial_hex())
            } else {
                Status::Unknown
            }
        })
        .collect();
    respond(
        parsed,
        &answers,
        ca.name(),
        ca.signature_algorithm()?,
        now,
        NEXT_UPDATE_SECS,
        |tbs| ca.sign_tbs(tbs),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request(n: usize) -> Vec<u8> {
        let id = CertId {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: OID_SHA1,
                parameters: None,
            },
            issuer_name_hash: OctetString::new(vec![1; 20]).unwrap(),
            issuer_key_hash: OctetString::new(vec![2; 20]).unwrap(),
            serial_number: x509_cert::serial_number::SerialNumber::new(&[0x12, 0x34]).unwrap(),
        };
        OcspRequest {
            tbs_request: TbsRequest {
                version: None,
                requestor_name: None,
                request_list: (0..n)
                    .map(|_| Request {
                        req_cert: id.clone(),
                        single_request_extensions: None,
                    })
                    .collect(),
                request_extensions: None,
            },
            optional_signature: None,
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn the_cache_forgets_at_revocations_and_stays_bounded() {
        let answer = |t: i64| Cached {
            produced_at: t,
            der: std::sync::Arc::from(&b"answer"[..]),
        };
        let cache = Cache::default();
        let before = cache.generation();
        cache.put(b"req", answer(100), before);
        assert!(cache.get(b"req", 159).is_some());
        assert!(cache.get(b"req", 160).is_none(), "a minute old");
        assert!(cache.get(b"other", 100).is_none());
        // Looked up before a revocation, stored after it: dropped, not served.
        let looked_up = cache.generation();
        cache.clear();
        assert!(cache.get(b"req", 100).is_none());
        cache.put(b"req", answer(100), looked_up);
        assert!(cache.get(b"req", 100).is_none());
        // Distinct requests never grow it past its bound.
        let now = cache.generation();
        for i in 0..(Cache::MAX_ENTRIES + 50) {
            cache.put(format!("req{i}").as_bytes(), answer(1_000), now);
        }
        assert!(cache.entries().map.len() <= Cache::MAX_ENTRIES);
        assert!(
            cache.get(b"req10049", 1_000).is_some(),
            "the newest is kept"
        );
    }

    fn with_nonce(value: Vec<u8>) -> Vec<u8> {
        let mut req = OcspRequest::from_der(&request(1)).unwrap();
        req.tbs_request.request_extensions = Some(vec![Extension {
            extn_id: OID_NONCE,
            critical: false,
            extn_value: OctetString::new(value).unwrap(),
        }]);
        req.to_der().unwrap()
    }

    #[test]
    fn nonces_over_32_octets_are_refused_not_echoed() {
        let wrapped = |n: usize| OctetString::new(vec![7; n]).unwrap().to_der().unwrap();
        assert!(
            parse(&with_nonce(wrapped(16))).unwrap().has_nonce(),
            "OpenSSL's"
        );
        assert!(parse(&with_nonce(wrapped(MAX_NONCE))).is_some());
        // Before: any length was echoed in a signed answer.
        assert!(parse(&with_nonce(wrapped(MAX_NONCE + 1))).is_none());
        assert!(parse(&with_nonce(wrapped(1000))).is_none());
        assert!(parse(&with_nonce(vec![9; 20])).is_some(), "bare bytes, 20");
        assert!(
            parse(&with_nonce(vec![9; 200])).is_none(),
            "bare bytes, 200"
        );
        assert!(parse(&with_nonce(vec![])).is_none(), "empty");
    }

    #[test]
    fn parses_a_request_and_bounds_its_size() {
        let parsed = parse(&request(1)).expect("parses");
        assert_eq!(parsed.ids.len(), 1);
        assert_eq!(parsed.ids[0].serial_hex(), "1234");
        assert!(parse(&request(MAX_REQUESTS)).is_some());
        assert!(parse(&request(MAX_REQUESTS + 1)).is_none());
        assert!(parse(&request(0)).is_none());
    }

    proptest! {
        #[test]
        fn damaged_or_random_requests_never_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            random in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut der = request(2);
            for (at, byte) in edits {
                let i = at.index(der.len());
                der[i] = byte;
            }
            let _ = parse(&der);
            let _ = parse(&random);
        }
    }
}
