//! One-time challenges for proof of possession, stateless until used: the id carries its expiry
//! and 128 random bits, and the nonce is an HMAC of the id under a key derived from the KEK. So
//! handing one out writes nothing (anonymous clients cannot grow the database), any server sharing
//! the data directory's KEK can check it, and only a use is recorded — once, in the transaction
//! that consumes it (`used_challenges`, primary key), forgotten by the periodic job after expiry.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

pub struct Challenges(ring::hmac::Key);

/// Longest id accepted (hex expiry, '.', 32 hex digits); anything longer is refused unread.
const MAX_ID: usize = 64;

impl Challenges {
    pub fn new(kek: &crate::keywrap::Kek) -> Self {
        let key = kek.derive(b"certrenew chall");
        Self(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            key.as_slice(),
        ))
    }

    fn nonce_of(&self, id: &str) -> String {
        URL_SAFE_NO_PAD.encode(ring::hmac::sign(&self.0, id.as_bytes()))
    }

    pub fn issue(&self, now: i64, ttl: i64) -> api::Challenge {
        let expires_at = now + ttl;
        let id = format!("{expires_at:x}.{}", crate::random_id(16));
        api::Challenge {
            nonce: self.nonce_of(&id),
            id,
            expires_at,
        }
    }

    /// The nonce and expiry of `id` if this server could have issued it and it has not expired
    /// (nor claims to live longer than `ttl`). Whether it was used is the database's to say.
    pub fn check(&self, id: &str, now: i64, ttl: i64) -> Option<(String, i64)> {
        if id.len() > MAX_ID {
            return None;
        }
        let (exp, rand) = id.split_once('.')?;
        if exp.is_empty() || exp.len() > 16 || rand.len() != 32 {
            return None;
        }
        let expires_at = i64::from_str_radix(exp, 16).ok()?;
        if expires_at <= now || expires_at > now + ttl {
            return None;
        }
        Some((self.nonce_of(id), expires_at))
    }
}

pub use crate::store::challenges::{consume, forget_expired};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn challenges() -> Challenges {
        Challenges::new(&crate::keywrap::Kek::new(&[9; 32]))
    }

    #[test]
    fn a_challenge_checks_until_it_expires_and_only_as_issued() {
        let c = challenges();
        let ch = c.issue(1_000, 300);
        assert_eq!(c.check(&ch.id, 1_000, 300), Some((ch.nonce.clone(), 1_300)));
        assert_eq!(c.check(&ch.id, 1_299, 300).map(|x| x.1), Some(1_300));
        assert_eq!(c.check(&ch.id, 1_300, 300), None, "expired");
        // Another KEK (another server's data directory) gives another nonce.
        let other = Challenges::new(&crate::keywrap::Kek::new(&[8; 32]));
        assert_ne!(other.check(&ch.id, 1_000, 300).unwrap().0, ch.nonce);
        // A longer life written into the id is refused; a shorter one changes the nonce.
        let (_, rand) = ch.id.split_once('.').unwrap();
        assert_eq!(
            c.check(&format!("{:x}.{rand}", 1_000_000), 1_000, 300),
            None
        );
        let shorter = format!("{:x}.{rand}", 1_100);
        assert_ne!(c.check(&shorter, 1_000, 300).unwrap().0, ch.nonce);
        assert_ne!(c.issue(1_000, 300).id, ch.id, "random part");
    }

    #[tokio::test]
    async fn a_use_is_refused_twice_and_forgotten_after_expiry() {
        let (_dir, db) = crate::store::test_store().await;
        assert!(consume(db.raw(), "old", 100).await.unwrap());
        assert!(consume(db.raw(), "new", 10_000).await.unwrap());
        assert!(!consume(db.raw(), "new", 10_000).await.unwrap(), "used");
        assert_eq!(forget_expired(&db, 1_000).await.unwrap(), 1);
        assert!(consume(db.raw(), "old", 100).await.unwrap(), "forgotten");
        assert!(!consume(db.raw(), "new", 10_000).await.unwrap(), "kept");
    }

    proptest! {
        /// Whatever a client sends as an id, checking it answers without panicking.
        #[test]
        fn any_id_is_answered(id in ".{0,80}") {
            let _ = challenges().check(&id, 1_000, 300);
        }
    }
}
