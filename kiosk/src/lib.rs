//! Signed Web Bundles for the kiosk app (an Isolated Web App).
//!
//! A signed bundle is a CBOR sequence: an integrity block (Ed25519 signature, WICG
//! "integrity-signature" explainer, version 2) followed by a Web Bundle (draft-ietf-wpack-
//! bundled-responses, version b2). The app's identity, `isolated-app://<id>/`, is derived from the
//! signing key alone, so the same key always gives the same origin (and keeps its storage).
//! Everything is deterministic: the same files and key give the same bytes (Ed25519 signatures
//! are deterministic too), which is what makes the bundle reproducible.

pub mod cbor;

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha512};

const BUNDLE_MAGIC: &[u8] = "🌐📦".as_bytes();
const BUNDLE_VERSION: &[u8] = b"b2\0\0";
const INTEGRITY_MAGIC: &[u8] = "🖋📦".as_bytes();
/// "2b" as wbn-sign and Chromium write it (the explainer text says "2\0\0\0").
const INTEGRITY_VERSION: &[u8] = b"2b\0\0";
/// Signed Web Bundle ID suffix for an Ed25519 key (isolated-web-apps Scheme.md).
const ED25519_ID_SUFFIX: [u8; 3] = [0x00, 0x01, 0x02];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("malformed CBOR: {0}")]
    Cbor(#[from] cbor::DecodeError),
    #[error("not a signed web bundle: {0}")]
    Format(&'static str),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the web bundle id {found} does not belong to the signing key (expected {expected})")]
    WrongId { found: String, expected: String },
}

/// The Signed Web Bundle ID of an Ed25519 public key: lower-case base32 (RFC 4648, no padding)
/// of the 32 key bytes followed by the type suffix.
pub fn web_bundle_id(key: &VerifyingKey) -> String {
    let mut raw = key.to_bytes().to_vec();
    raw.extend_from_slice(&ED25519_ID_SUFFIX);
    base32_lower(&raw)
}

fn base32_lower(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// One resource of the app: its path inside the bundle (`/index.html`) and content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub path: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// The unsigned Web Bundle (b2) holding `resources` under relative URLs.
pub fn web_bundle(resources: &[Resource]) -> Vec<u8> {
    use cbor::Enc;
    // Deterministic CBOR orders the index's keys shorter first, then bytewise; the responses
    // follow the same order (what Google's `wbn` builder writes for the same files).
    let mut sorted: Vec<&Resource> = resources.iter().collect();
    sorted.sort_by(|a, b| (a.path.len(), &a.path).cmp(&(b.path.len(), &b.path)));

    let mut responses = Enc::default();
    responses.array(sorted.len());
    let mut locations = Vec::with_capacity(sorted.len());
    for r in &sorted {
        let start = responses.len();
        let mut headers = Enc::default();
        // Deterministic CBOR orders map keys by length, then bytes: ":status" before
        // "content-type".
        headers.map(2);
        headers.bytes(b":status");
        headers.bytes(b"200");
        headers.bytes(b"content-type");
        headers.bytes(r.content_type.as_bytes());
        responses.array(2);
        responses.bytes(&headers.into_bytes());
        responses.bytes(&r.body);
        locations.push((start, responses.len() - start));
    }
    let responses = responses.into_bytes();

    let mut index = Enc::default();
    index.map(sorted.len());
    for (r, (offset, len)) in sorted.iter().zip(&locations) {
        index.text(&r.path);
        index.array(2);
        index.uint(*offset as u64);
        index.uint(*len as u64);
    }
    let index = index.into_bytes();

    let mut lengths = Enc::default();
    lengths.array(4);
    lengths.text("index");
    lengths.uint(index.len() as u64);
    lengths.text("responses");
    lengths.uint(responses.len() as u64);

    let mut out = Enc::default();
    out.array(5);
    out.bytes(BUNDLE_MAGIC);
    out.bytes(BUNDLE_VERSION);
    out.bytes(&lengths.into_bytes());
    out.array(2);
    out.raw(&index);
    out.raw(&responses);
    // The last field is the whole bundle's length as 8 big-endian bytes; its own size is fixed
    // (1 + 8), so the total is known before writing it.
    let total = out.len() + 9;
    out.bytes(&(total as u64).to_be_bytes());
    out.into_bytes()
}

fn integrity_block(id: &str, signatures: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    use cbor::Enc;
    let mut e = Enc::default();
    e.array(4);
    e.bytes(INTEGRITY_MAGIC);
    e.bytes(INTEGRITY_VERSION);
    e.map(1);
    e.text("webBundleId");
    e.text(id);
    e.array(signatures.len());
    for (attributes, signature) in signatures {
        e.array(2);
        e.raw(attributes);
        e.bytes(signature);
    }
    e.into_bytes()
}

fn signature_attributes(key: &VerifyingKey) -> Vec<u8> {
    let mut e = cbor::Enc::default();
    e.map(1);
    e.text("ed25519PublicKey");
    e.bytes(&key.to_bytes());
    e.into_bytes()
}

/// What is signed: the bundle's SHA-512, the integrity block without signatures and the
/// signature's attributes, each preceded by its length as a 64-bit big-endian integer.
fn signed_data(bundle: &[u8], unsigned_block: &[u8], attributes: &[u8]) -> Vec<u8> {
    let hash = Sha512::digest(bundle);
    let mut data = Vec::new();
    for part in [&hash[..], unsigned_block, attributes] {
        data.extend_from_slice(&(part.len() as u64).to_be_bytes());
        data.extend_from_slice(part);
    }
    data
}

/// Signs `bundle` with `key`: integrity block + bundle.
pub fn sign(bundle: &[u8], key: &SigningKey) -> Vec<u8> {
    let public = key.verifying_key();
    let id = web_bundle_id(&public);
    let attributes = signature_attributes(&public);
    let data = signed_data(bundle, &integrity_block(&id, &[]), &attributes);
    let signature = key.sign(&data).to_bytes().to_vec();
    let mut out = integrity_block(&id, &[(attributes, signature)]);
    out.extend_from_slice(bundle);
    out
}

/// What `inspect` found in a signed bundle that verified.
#[derive(Debug, PartialEq, Eq)]
pub struct Inspected {
    pub web_bundle_id: String,
    /// (path, content type, body length), in the bundle's order.
    pub resources: Vec<(String, String, usize)>,
}

/// Parses and verifies a signed web bundle: structure, every signature, and that the id belongs
/// to a signing key. Never panics; every loop is bounded by the input's length.
pub fn inspect(file: &[u8]) -> Result<Inspected, BundleError> {
    use cbor::{Dec, Item};
    let mut d = Dec::new(file);
    if d.array()? != 4 {
        return Err(BundleError::Format(
            "integrity block is not a 4-element array",
        ));
    }
    if d.bytes()? != INTEGRITY_MAGIC || d.bytes()? != INTEGRITY_VERSION {
        return Err(BundleError::Format("integrity block magic or version"));
    }
    let attrs_start = d.pos();
    let mut id = None;
    for _ in 0..d.map()? {
        let k = d.text()?;
        match d.item()? {
            Item::Text(v) if k == "webBundleId" => id = Some(v.to_owned()),
            _ => {}
        }
    }
    let id = id.ok_or(BundleError::Format("no webBundleId"))?;
    let attrs = &file[attrs_start..d.pos()];
    let n = d.array()?;
    let mut signatures = Vec::new();
    for _ in 0..n {
        if d.array()? != 2 {
            return Err(BundleError::Format("signature entry is not a pair"));
        }
        let a_start = d.pos();
        let mut public = None;
        for _ in 0..d.map()? {
            let k = d.text()?;
            match d.item()? {
                Item::Bytes(v) if k == "ed25519PublicKey" => public = Some(v.to_vec()),
                _ => {}
            }
        }
        let a = file[a_start..d.pos()].to_vec();
        let sig = d.bytes()?.to_vec();
        signatures.push((public, a, sig));
    }
    let bundle = &file[d.pos()..];
    if signatures.is_empty() {
        return Err(BundleError::Format("no signature"));
    }
    // Rebuild the block as it was when signed: same attributes, empty signature list.
    let mut unsigned = cbor::Enc::default();
    unsigned.array(4);
    unsigned.bytes(INTEGRITY_MAGIC);
    unsigned.bytes(INTEGRITY_VERSION);
    unsigned.raw(attrs);
    unsigned.array(0);
    let unsigned = unsigned.into_bytes();
    let mut id_matches = false;
    let mut expected = String::new();
    for (public, a, sig) in &signatures {
        let public: [u8; 32] = public
            .as_deref()
            .and_then(|p| p.try_into().ok())
            .ok_or(BundleError::Format("signature without an Ed25519 key"))?;
        let key = VerifyingKey::from_bytes(&public).map_err(|_| BundleError::BadSignature)?;
        let sig: [u8; 64] = sig
            .as_slice()
            .try_into()
            .map_err(|_| BundleError::BadSignature)?;
        key.verify(
            &signed_data(bundle, &unsigned, a),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .map_err(|_| BundleError::BadSignature)?;
        expected = web_bundle_id(&key);
        id_matches |= expected == id;
    }
    if !id_matches {
        return Err(BundleError::WrongId {
            found: id,
            expected,
        });
    }
    Ok(Inspected {
        web_bundle_id: id,
        resources: read_bundle(bundle)?,
    })
}

fn read_bundle(bundle: &[u8]) -> Result<Vec<(String, String, usize)>, BundleError> {
    use cbor::Dec;
    let mut d = Dec::new(bundle);
    if d.array()? != 5 || d.bytes()? != BUNDLE_MAGIC || d.bytes()? != BUNDLE_VERSION {
        return Err(BundleError::Format("web bundle magic or version"));
    }
    // Section names and lengths, checked against what follows.
    let mut lengths = Dec::new(d.bytes()?);
    let mut sections = Vec::new();
    for _ in 0..lengths.array()? / 2 {
        sections.push((lengths.text()?, lengths.uint()?));
    }
    let names: Vec<&str> = sections.iter().map(|s| s.0).collect();
    if names != ["index", "responses"] || d.array()? != 2 {
        return Err(BundleError::Format(
            "expected the index and responses sections",
        ));
    }
    let index_start = d.pos();
    let mut entries = Vec::new();
    for _ in 0..d.map()? {
        let path = d.text()?.to_owned();
        if d.array()? != 2 {
            return Err(BundleError::Format("index entry is not [offset, length]"));
        }
        entries.push((path, d.uint()?, d.uint()?));
    }
    if (d.pos() - index_start) as u64 != sections[0].1 {
        return Err(BundleError::Format(
            "index length differs from section-lengths",
        ));
    }
    let responses_start = d.pos();
    let mut out = Vec::new();
    for (path, offset, len) in entries {
        let at = usize::try_from(offset)
            .ok()
            .and_then(|o| responses_start.checked_add(o))
            .filter(|&a| a <= bundle.len())
            .ok_or(BundleError::Format("index points outside the bundle"))?;
        let mut r = Dec::new(&bundle[at..]);
        if r.array()? != 2 {
            return Err(BundleError::Format("response is not [headers, body]"));
        }
        let headers = r.bytes()?;
        let body = r.bytes()?;
        if r.pos() as u64 != len {
            return Err(BundleError::Format(
                "index length differs from the response",
            ));
        }
        let mut h = Dec::new(headers);
        let mut content_type = String::new();
        for _ in 0..h.map()? {
            let (k, v) = (h.bytes()?, h.bytes()?);
            if k == b"content-type" {
                content_type = String::from_utf8_lossy(v).into_owned();
            }
        }
        out.push((path, content_type, body.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn id_matches_the_explainer_example() {
        let key: [u8; 32] = [
            0x01, 0x23, 0x43, 0x43, 0x33, 0x42, 0x7A, 0x14, 0x42, 0x14, 0xa2, 0xb6, 0xc2, 0xd9,
            0xf2, 0x02, 0x03, 0x42, 0x18, 0x10, 0x12, 0x26, 0x62, 0x88, 0xf6, 0xa3, 0xa5, 0x47,
            0x14, 0x69, 0x00, 0x73,
        ];
        let mut raw = key.to_vec();
        raw.extend_from_slice(&ED25519_ID_SUFFIX);
        assert_eq!(
            base32_lower(&raw),
            "aerugqztij5biqquuk3mfwpsaibuegaqcitgfchwuosuofdjabzqaaic"
        );
    }

    fn resources() -> Vec<Resource> {
        vec![
            Resource {
                path: "/index.html".into(),
                content_type: "text/html".into(),
                body: b"<p>hi</p>".to_vec(),
            },
            Resource {
                path: "/a.js".into(),
                content_type: "text/javascript".into(),
                body: vec![b'x'; 300],
            },
        ]
    }

    #[test]
    fn signs_verifies_and_lists_what_it_holds() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let signed = sign(&web_bundle(&resources()), &key);
        let got = inspect(&signed).unwrap();
        assert_eq!(got.web_bundle_id, web_bundle_id(&key.verifying_key()));
        assert_eq!(
            got.resources,
            vec![
                ("/a.js".into(), "text/javascript".into(), 300),
                ("/index.html".into(), "text/html".into(), 9)
            ],
            "shorter keys first (deterministic CBOR)"
        );
        // Same input, same bytes.
        assert_eq!(signed, sign(&web_bundle(&resources()), &key));
    }

    #[test]
    fn any_changed_byte_is_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let signed = sign(&web_bundle(&resources()), &key);
        for i in (0..signed.len()).step_by(7) {
            let mut bad = signed.clone();
            bad[i] ^= 0x01;
            assert!(
                inspect(&bad).is_err(),
                "byte {i} flipped and still accepted"
            );
        }
    }

    #[test]
    fn an_id_of_another_key_is_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = web_bundle_id(&SigningKey::from_bytes(&[8; 32]).verifying_key());
        let bundle = web_bundle(&resources());
        let public = key.verifying_key();
        let attributes = signature_attributes(&public);
        let data = signed_data(&bundle, &integrity_block(&other, &[]), &attributes);
        let mut forged =
            integrity_block(&other, &[(attributes, key.sign(&data).to_bytes().to_vec())]);
        forged.extend_from_slice(&bundle);
        assert!(matches!(inspect(&forged), Err(BundleError::WrongId { .. })));
    }

    proptest::proptest! {
        #[test]
        fn inspect_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = inspect(&data);
        }

        #[test]
        fn inspect_survives_truncation(cut in 0usize..2000) {
            let key = SigningKey::from_bytes(&[9; 32]);
            let signed = sign(&web_bundle(&resources()), &key);
            let _ = inspect(&signed[..cut.min(signed.len())]);
        }
    }
}
