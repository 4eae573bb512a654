#![allow(clippy::unwrap_used)]
//! The provider's notice is network input: whatever arrives, checking it never panics, and a
//! notice whose signed content or signature was changed is refused. bench/fuzz.sh runs 1 M cases.

use certrenew_server::payment::alipay::Alipay;
use certrenew_server::payment::{signing_string, NoticeError, Params, PaymentProvider, Sandbox};
use proptest::prelude::*;
use std::sync::OnceLock;

/// The merchant's Alipay adapter (set up against the sandbox) and one genuine notice (signing
/// is the slow part: made once).
fn sandbox() -> &'static (Alipay, Params) {
    static S: OnceLock<(Alipay, Params)> = OnceLock::new();
    S.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("notice-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = Sandbox::load_or_create(&dir).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        let genuine = s.notice("PAYFUZZ", "T1", 30_000, 1_795_000_000);
        let account = s.account("http://127.0.0.1:9").unwrap();
        let alipay = Alipay::new(account, "http://127.0.0.1:9", reqwest::Client::new()).unwrap();
        (alipay, genuine)
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
        prop_assert!(s.verify_params(genuine).is_ok());
        let mut p: Params = genuine.clone();
        for c in changes {
            match c {
                Change::Set(k, v) => { p.insert(KEYS[k].into(), v); }
                Change::Remove(k) => { p.remove(KEYS[k]); }
                Change::Add(k, v) => { p.insert(k, v); }
            }
        }
        let result = s.verify_params(&p);
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

proptest! {
    /// Whatever bytes arrive as a notice body, or as a gateway answer, reading them never panics
    /// and never yields a payment.
    #[test]
    fn any_body_is_read_without_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let (s, _) = sandbox();
        let notice = s.verify_notice(&Default::default(), &body);
        prop_assert!(!matches!(notice, Ok(certrenew_server::payment::Notice::Paid(_))), "{notice:?}");
        let text = String::from_utf8_lossy(&body);
        prop_assert!(s.read_answer("alipay.trade.query", &text).is_err());
    }
}
