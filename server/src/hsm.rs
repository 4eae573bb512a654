//! The CA key in a PKCS #11 module (an HSM, or SoftHSM for tests): it is generated there, never
//! leaves it, and signs there. Named by an RFC 7512 URI, `pkcs11:token=LABEL;object=LABEL
//! ?module-path=/path/to/module.so`; the user PIN comes from `CERTRENEW_CA_PIN`, never the URI.

use crate::fault::Error;
use ccid::keys::{PublicKey, RsaPublicKey};
use ccid::piv::Algorithm;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use sha2::Digest;

/// The environment variable holding the token's user PIN.
pub const PIN_VAR: &str = "CERTRENEW_CA_PIN";

/// DER of the P-256 curve's OID (CKA_EC_PARAMS).
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// What a `pkcs11:` URI names.
#[derive(Debug, PartialEq)]
pub struct Uri {
    pub module: String,
    pub token: String,
    pub object: String,
}

impl Uri {
    /// Parses the subset of RFC 7512 used here: `token` and `object` path attributes and the
    /// `module-path` query attribute, percent-decoded. A PIN in the URI is refused.
    pub fn parse(uri: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::Config(format!(
                "--ca-key-uri: {why} (pkcs11:token=…;object=…?module-path=…)"
            ))
        };
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or_else(|| bad("not a pkcs11: URI"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (mut module, mut token, mut object) = (None, None, None);
        let decode = |v: &str| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| bad("a value is not UTF-8"))
        };
        for (part, sep) in [(path, ';'), (query, '&')] {
            for attr in part.split(sep).filter(|a| !a.is_empty()) {
                let (k, v) = attr.split_once('=').ok_or_else(|| bad(attr))?;
                let slot = match k {
                    "token" => &mut token,
                    "object" => &mut object,
                    "module-path" => &mut module,
                    "pin-value" | "pin-source" => {
                        return Err(bad(&format!("put the PIN in {PIN_VAR}, not in the URI")))
                    }
                    // Others (type, manufacturer, …) narrow nothing we need.
                    _ => continue,
                };
                *slot = Some(decode(v)?);
            }
        }
        Ok(Self {
            module: module.ok_or_else(|| bad("no module-path"))?,
            token: token.ok_or_else(|| bad("no token"))?,
            object: object.ok_or_else(|| bad("no object"))?,
        })
    }
}

/// Sessions kept open for signing: a session signs one thing at a time, and a network HSM takes
/// milliseconds per signature.
const SESSIONS: usize = 4;

/// A signing key held by the module.
pub struct Pkcs11Key {
    sessions: Vec<std::sync::Mutex<Session>>,
    next: std::sync::atomic::AtomicUsize,
    key: ObjectHandle,
    alg: Algorithm,
    public: PublicKey,
    /// Keeps the module loaded while the session lives.
    _module: Pkcs11,
}

impl Pkcs11Key {
    /// Logs in to the URI's token and finds its key, generating it there (of `alg`, unextractable)
    /// when the token has none by that label.
    pub fn open_or_generate(uri: &Uri, pin: &str, alg: Algorithm) -> Result<Self, Error> {
        fn err(what: &str) -> impl Fn(cryptoki::error::Error) -> Error + '_ {
            move |e| Error::Hsm(format!("{what}: {e}"))
        }
        let module = loaded(&uri.module)?;
        let slot = module
            .get_slots_with_initialized_token()
            .map_err(err("slots"))?
            .into_iter()
            .find(|s| {
                module
                    .get_token_info(*s)
                    .is_ok_and(|t| t.label().trim_end() == uri.token)
            })
            .ok_or_else(|| Error::Hsm(format!("no initialized token labelled {:?}", uri.token)))?;
        let session = module.open_rw_session(slot).map_err(err("session"))?;
        // Login is per process in PKCS #11: another session of ours may have done it already.
        match session.login(UserType::User, Some(&AuthPin::from(pin.to_owned()))) {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::UserAlreadyLoggedIn,
                _,
            )) => {}
            Err(e) => return Err(err("login")(e)),
        }
        let label = Attribute::Label(uri.object.as_bytes().to_vec());
        let find = |class| {
            session
                .find_objects(&[Attribute::Class(class), label.clone()])
                .map_err(err("search"))
        };
        let (private, public) = match (
            find(ObjectClass::PRIVATE_KEY)?.as_slice(),
            find(ObjectClass::PUBLIC_KEY)?.as_slice(),
        ) {
            ([private], [public]) => (*private, *public),
            ([], []) => {
                let (public, private) = generate(&session, &uri.object, alg)?;
                (private, public)
            }
            (p, q) => {
                return Err(Error::Hsm(format!(
                    "PKCS #11: token {:?} has {} private and {} public keys labelled {:?}; want one of each",
                    uri.token,
                    p.len(),
                    q.len(),
                    uri.object
                )))
            }
        };
        let (alg, public) = read_public(&session, public)?;
        // Object handles and the login hold for every session of this process.
        let mut sessions = vec![std::sync::Mutex::new(session)];
        for _ in 1..SESSIONS {
            let more = module.open_ro_session(slot).map_err(err("session"))?;
            sessions.push(std::sync::Mutex::new(more));
        }
        Ok(Self {
            sessions,
            next: std::sync::atomic::AtomicUsize::new(0),
            key: private,
            alg,
            public,
            _module: module,
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// A SHA-256 signature: ECDSA (DER, from the module's r‖s) or RSASSA-PKCS1-v1_5.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        // On the server's async workers a signature is blocking I/O: let the runtime move the
        // worker's other tasks elsewhere meanwhile.
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => {
                tokio::task::block_in_place(|| self.sign_now(data))
            }
            _ => self.sign_now(data),
        }
    }

    fn sign_now(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        let session = crate::lock_any(&self.sessions, &self.next);
        let failed = |e: cryptoki::error::Error| {
            Error::Hsm(format!("the CA's key in the HSM did not sign: {e}"))
        };
        match self.alg {
            Algorithm::EccP256 => {
                let digest = sha2::Sha256::digest(data);
                let raw = session
                    .sign(&Mechanism::Ecdsa, self.key, &digest)
                    .map_err(failed)?;
                let sig = p256::ecdsa::Signature::from_slice(&raw).map_err(|_| {
                    Error::Hsm("the HSM's ECDSA signature is not r‖s of P-256".into())
                })?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            _ => session
                .sign(&Mechanism::Sha256RsaPkcs, self.key, data)
                .map_err(failed),
        }
    }
}

/// The module at `path`, loaded and initialized once per process (a second C_Initialize is
/// refused, and finalizing would end every other user's sessions).
fn loaded(path: &str) -> Result<Pkcs11, Error> {
    static MODULES: std::sync::Mutex<Vec<(String, Pkcs11)>> = std::sync::Mutex::new(Vec::new());
    let mut modules = MODULES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, m)) = modules.iter().find(|(p, _)| p == path) {
        return Ok(m.clone());
    }
    let module = Pkcs11::new(path).map_err(|e| Error::Hsm(format!("module {path}: {e}")))?;
    module
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| Error::Hsm(format!("module {path}: {e}")))?;
    modules.push((path.to_owned(), module.clone()));
    Ok(module)
}

fn generate(
    session: &Session,
    label: &str,
    alg: Algorithm,
) -> Result<(ObjectHandle, ObjectHandle), Error> {
    let common = |private: bool| {
        vec![
            Attribute::Token(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(label.as_bytes().to_vec()),
            if private {
                Attribute::Sign(true)
            } else {
                Attribute::Verify(true)
            },
        ]
    };
    let mut public = common(false);
    let mut private = common(true);
    private.extend([
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
    ]);
    let mechanism = match alg {
        Algorithm::EccP256 => {
            public.push(Attribute::EcParams(P256_PARAMS.to_vec()));
            Mechanism::EccKeyPairGen
        }
        Algorithm::Rsa2048 => {
            public.extend([
                Attribute::ModulusBits(2048.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
            ]);
            Mechanism::RsaPkcsKeyPairGen
        }
        other => {
            return Err(Error::Hsm(format!(
                "a CA key of {other:?} is not supported"
            )))
        }
    };
    session
        .generate_key_pair(&mechanism, &public, &private)
        .map_err(|e| Error::Hsm(format!("key generation: {e}")))
}

/// The algorithm and public key of a public-key object.
fn read_public(session: &Session, key: ObjectHandle) -> Result<(Algorithm, PublicKey), Error> {
    let attrs = session
        .get_attributes(
            key,
            &[
                AttributeType::KeyType,
                AttributeType::EcParams,
                AttributeType::EcPoint,
                AttributeType::Modulus,
                AttributeType::PublicExponent,
            ],
        )
        .map_err(|e| Error::Hsm(format!("public key: {e}")))?;
    let (mut kind, mut params, mut point, mut n, mut e) = (None, None, None, None, None);
    for a in attrs {
        match a {
            Attribute::KeyType(k) => kind = Some(k),
            Attribute::EcParams(v) => params = Some(v),
            Attribute::EcPoint(v) => point = Some(v),
            Attribute::Modulus(v) => n = Some(v),
            Attribute::PublicExponent(v) => e = Some(v),
            _ => {}
        }
    }
    match (kind, params, point, n, e) {
        (Some(KeyType::EC), Some(params), Some(point), _, _) if params == P256_PARAMS => {
            // CKA_EC_POINT is the DER OCTET STRING around the SEC1 point (some modules give it bare).
            let sec1 = match point.as_slice() {
                [0x04, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
                bare => bare,
            };
            let key = p256::PublicKey::from_sec1_bytes(sec1)
                .map_err(|_| Error::Hsm("the EC point is not on P-256".into()))?;
            Ok((Algorithm::EccP256, PublicKey::from(key)))
        }
        (Some(KeyType::RSA), _, _, Some(n), Some(e)) if n.len() == 256 => Ok((
            Algorithm::Rsa2048,
            PublicKey::Rsa(RsaPublicKey::new(&n, &e).map_err(Error::hsm)?),
        )),
        _ => Err(Error::Hsm(
            "the CA key is neither P-256 nor RSA-2048".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_read_as_rfc_7512_says() {
        assert_eq!(
            Uri::parse("pkcs11:token=CA%20one;object=certrenew-ca;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so").unwrap(),
            Uri {
                module: "/usr/lib/softhsm/libsofthsm2.so".into(),
                token: "CA one".into(),
                object: "certrenew-ca".into(),
            }
        );
        for bad in [
            "file:/x",
            "pkcs11:token=a;object=b",
            "pkcs11:object=b?module-path=/m.so",
            "pkcs11:token=a;object=b?module-path=/m.so&pin-value=1234",
            "pkcs11:token=a;object?module-path=/m.so",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
    }
}
