#![allow(clippy::unwrap_used)]
//! The provider's notice is network input: whatever arrives, checking it never panics, and a
//! notice whose signed content or signature was changed is refused. bench/fuzz.sh runs 1 M cases.

use certrenew_server::payment::{signing_string, NoticeError, Params, Sandbox};
use proptest::prelude::*;
use std::sync::OnceLock;

/// The sandbox and one genuine notice (signing is the slow part: made once).
fn sandbox() -> &'static (Sandbox, Params) {
    static S: OnceLock<(Sandbox, Params)> = OnceLock::new();
    S.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("notice-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = Sandbox::load_or_create(&dir).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        let genuine = s.notice("PAYFUZZ", "T1", 30_000, 1_795_000_000);
        (s, genuine)
    })
}

const KEYS: &[&str] = &[
    "notify_time",
    "notify_type",
    "notify_id",
    "app_id",
    "seller_id",
    "out_trade_no",
    "trade_no",
    "trade_status",
    "total_amount",
    "sign_type",
    "sign",
];

#[derive(Debug, Clone)]
enum Change {
    Set(usize, String),
    Remove(usize),
    Add(String, String),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (0..KEYS.len(), any::<String>()).prop_map(|(k, v)| Change::Set(k, v)),
        (0..KEYS.len()).prop_map(Change::Remove),
        ("[a-z_]{1,12}", any::<String>()).prop_map(|(k, v)| Change::Add(k, v)),
    ]
}

proptest! {
    #[test]
    fn changed_notices_never_panic_and_never_pass(
        changes in proptest::collection::vec(change(), 0..6),
    ) {
        let (s, genuine) = sandbox();
        prop_assert!(s.merchant.verify(genuine).is_ok());
        let mut p: Params = genuine.clone();
        for c in changes {
            match c {
                Change::Set(k, v) => { p.insert(KEYS[k].into(), v); }
                Change::Remove(k) => { p.remove(KEYS[k]); }
                Change::Add(k, v) => { p.insert(k, v); }
            }
        }
        let result = s.merchant.verify(&p);
        let same_content = signing_string(&p).is_some()
            && signing_string(&p) == signing_string(genuine)
            && p.get("sign") == genuine.get("sign")
            && p.get("sign_type") == genuine.get("sign_type");
        if same_content {
            prop_assert!(result.is_ok(), "{result:?}");
        } else {
            prop_assert_eq!(result, Err(NoticeError::Signature));
        }
    }
}
