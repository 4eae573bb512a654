//! Shared set-up: a test CA and a token holding a key and certificate.
#![allow(dead_code, clippy::unwrap_used)]

use ccid::cert::{issue, Issue};
use ccid::keys::PublicKey;
use ccid::piv::{Algorithm, Slot};
use std::str::FromStr;
use token::keys::PrivateKey;
use token::PivApplet;
use x509_cert::name::Name;

pub const NOW: i64 = 1_795_000_000; // 2026-11-17

pub struct TestCa {
    pub key: p256::SecretKey,
    pub name: Name,
}

impl TestCa {
    pub fn new() -> Self {
        let key = rsa::Generate::generate_from_rng(&mut rand_core::UnwrapErr(getrandom::SysRng));
        Self {
            key,
            name: Name::from_str("CN=certrenew Test CA,O=certrenew,C=CN").unwrap(),
        }
    }

    pub fn public(&self) -> PublicKey {
        PublicKey::from(self.key.public_key())
    }

    pub fn issue(
        &self,
        subject: &Name,
        key: &PublicKey,
        not_before: i64,
        not_after: i64,
    ) -> Vec<u8> {
        let signer = p256::ecdsa::SigningKey::from(&self.key);
        issue(
            Issue {
                serial: &[0x01, 0x23, 0x45, 0x67, 0x89],
                subject,
                issuer: &self.name,
                not_before,
                not_after,
                public_key: key,
                extensions: vec![],
            },
            Algorithm::EccP256,
            |tbs| {
                use p256::ecdsa::signature::Signer;
                let sig: p256::ecdsa::Signature = signer.sign(tbs);
                Ok(sig.to_der().as_bytes().to_vec())
            },
        )
        .unwrap()
    }
}

pub fn subject() -> Name {
    Name::from_str("CN=张三,O=深圳市某医疗器械有限公司,C=CN").unwrap()
}

/// A token with a P-256 key in 9A and a certificate for it valid for 30 more days.
pub fn provisioned(ca: &TestCa, alg: Algorithm) -> PivApplet {
    let mut applet = PivApplet::new();
    let key = PrivateKey::generate(alg).unwrap();
    let cert = ca.issue(
        &subject(),
        &key.public_key(),
        NOW - 335 * 86_400,
        NOW + 30 * 86_400,
    );
    applet.install_key(Slot::Authentication, key);
    applet.install_certificate(Slot::Authentication, &cert);
    applet
}
