//! A payment provider's SDK as a mock gateway on loopback (tests/e2e/*-mock.mjs, run by Node with
//! the npm packages scripts/setup e2e installs), and keys made for it by the test.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::BufRead;
use std::path::{Path, PathBuf};

pub struct Mock {
    child: std::process::Child,
    pub url: String,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// A fresh RSA-2048 key pair as PEM files `name.key` (PKCS#8) and `name.pub` (SPKI).
pub fn pem_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let (private, public) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pub")),
    );
    std::fs::write(&private, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    std::fs::write(&public, key.public_key_to_pem().unwrap()).unwrap();
    (private, public)
}

impl Mock {
    /// Starts `tests/e2e/<script>` with `env`; `package` is the SDK it is built on.
    pub fn start(script: &str, package: &str, env: &[(&str, &std::ffi::OsStr)]) -> Mock {
        let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e");
        assert!(
            e2e.join("node_modules").join(package).exists(),
            "{package} is not installed: scripts/setup e2e"
        );
        let mut child = std::process::Command::new("node")
            .arg(script)
            .current_dir(&e2e)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .expect("the mock listens")
            .to_string();
        Mock {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    pub async fn get(&self, path: &str) -> serde_json::Value {
        reqwest::get(format!("{}{path}", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str) -> serde_json::Value {
        reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits (≤ 5 s) until the books say `what` of them.
    pub async fn books_until(&self, what: impl Fn(&serde_json::Value) -> bool) -> bool {
        for _ in 0..50 {
            if what(&self.get("/_test/books").await) {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    }
}

/// Pays `number` by `method` with valid e-invoice details; the payment the server made.
pub async fn payment(
    s: &super::Server,
    number: &str,
    token: &str,
    method: &str,
    title: &str,
) -> api::PaymentView {
    let r = s
        .order_post(
            number,
            token,
            "/payments",
            &serde_json::json!({"method": method, "invoice_title": title, "taxpayer_id": "91350100M000100Y43"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// The paid order `number` is cancelled while the provider fails its first refund call: the
/// refund is retried, and the order is refunded only once the provider's books show the money
/// back — once, in full.
pub async fn cancel_while_refunds_fail_once(
    s: &super::Server,
    mock: &Mock,
    number: &str,
    token: &str,
    p: &api::PaymentView,
) {
    use api::OrderStatus;
    mock.post("/_test/fail-refunds?n=1").await;
    assert_eq!(
        s.order_post(number, token, "/cancel", &()).await.status(),
        200
    );
    assert_eq!(certrenew_server::refund::run(&s.state).await.unwrap(), 0);
    assert_eq!(
        super::order(s, number, token).await.status,
        OrderStatus::Refunding
    );
    assert_eq!(super::settle_refunds(s).await, 1);
    assert_eq!(
        super::order(s, number, token).await.status,
        OrderStatus::Refunded
    );
    let books = mock.get("/_test/books").await;
    let refunds = books["trades"][&p.id]["refunds"]
        .as_object()
        .unwrap()
        .clone();
    assert_eq!(refunds.len(), 1, "{books}");
    assert_eq!(
        refunds.values().next().unwrap(),
        &serde_json::json!(p.amount_fen)
    );
}

/// A payment whose notice the provider never delivers: reconciliation finds it paid there.
pub async fn lost_notice_is_reconciled(s: &super::Server, mock: &Mock, method: &str) {
    let (mut applet, cert) = s.token(30).await;
    let (number, token) = super::apply(s, &mut applet, &cert).await;
    let p = payment(s, &number, &token, method, "深圳市某医疗器械有限公司").await;
    mock.post(&format!("/_test/pay?out_trade_no={}&drop=1", p.id))
        .await;
    certrenew_server::store::sql::query(
        "UPDATE payments SET created_at = created_at - 1000 WHERE id = $1",
    )
    .bind(&p.id)
    .execute(s.state.db.raw())
    .await
    .unwrap();
    assert_eq!(
        certrenew_server::jobs::reconcile_payments(&s.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        super::order(s, &number, &token).await.status,
        api::OrderStatus::UnderReview
    );
}

impl Mock {
    /// Every request the SDK saw verified, and each of `calls` among them.
    pub async fn assert_every_request_verified(&self, calls: &[&str]) {
        let books = self.get("/_test/books").await;
        assert_eq!(books["refused"], serde_json::json!({}), "{books}");
        for m in calls {
            assert!(
                books["verified"][m].as_u64().unwrap_or(0) >= 1,
                "{m}: {books}"
            );
        }
    }
}

/// The provider's books: the refunds of one trade (request number → fen).
async fn refunds_at(mock: &Mock, payment_id: &str) -> serde_json::Map<String, serde_json::Value> {
    let books = mock.get("/_test/books").await;
    books["trades"][payment_id]["refunds"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// Asserts the provider returned a payment's money once, in full.
async fn refunded_once(mock: &Mock, p: &api::PaymentView) {
    let refunds = refunds_at(mock, &p.id).await;
    assert_eq!(refunds.len(), 1, "{}: {refunds:?}", p.id);
    assert_eq!(
        refunds.values().next().unwrap(),
        &serde_json::json!(p.amount_fen)
    );
}

/// Money the order no longer takes goes back to the payer at the provider, once: after a
/// rejection, for a notice that arrives after the order expired, and for a second payment
/// (one replaced after the payer had already paid it).
pub async fn refunds_end_at_the_provider(s: &super::Server, mock: &Mock, method: &str) {
    use api::OrderStatus;
    const TITLE: &str = "深圳市某医疗器械有限公司";
    let csrf = s.admin_login().await;

    // Rejected after payment.
    let (mut applet, cert) = s.token(30).await;
    let (n, t) = super::apply(s, &mut applet, &cert).await;
    let p = payment(s, &n, &t, method, TITLE).await;
    mock.post(&format!("/_test/pay?out_trade_no={}", p.id))
        .await;
    assert_eq!(
        super::order(s, &n, &t).await.status,
        OrderStatus::UnderReview
    );
    s.reject(&n, &csrf, "营业执照信息不符").await;
    assert_eq!(super::settle_refunds(s).await, 1);
    assert_eq!(super::order(s, &n, &t).await.status, OrderStatus::Refunded);
    refunded_once(mock, &p).await;

    // Paid just before the order expired; the notice comes after.
    let (mut applet, cert) = s.token(30).await;
    let (n, t) = super::apply(s, &mut applet, &cert).await;
    let p = payment(s, &n, &t, method, TITLE).await;
    mock.post(&format!("/_test/pay?out_trade_no={}&drop=1", p.id))
        .await;
    certrenew_server::store::sql::query(
        "UPDATE orders SET applied_at = applied_at - $1 WHERE number = $2",
    )
    .bind(s.state.config.payment_ttl_secs + 1)
    .bind(&n)
    .execute(s.state.db.raw())
    .await
    .unwrap();
    assert_eq!(
        certrenew_server::jobs::expire_unpaid(&s.state)
            .await
            .unwrap(),
        1
    );
    let late = mock
        .post(&format!("/_test/resend?out_trade_no={}", p.id))
        .await;
    assert!(
        [200, 204].contains(&late["delivered"]["status"].as_u64().unwrap()),
        "{late}"
    );
    assert_eq!(
        super::order(s, &n, &t).await.status,
        OrderStatus::PaymentExpired
    );
    assert_eq!(super::settle_refunds(s).await, 1);
    refunded_once(mock, &p).await;

    // Two payments paid: the first (replaced while its money was on the way) goes back, the
    // second is the order's.
    let (mut applet, cert) = s.token(30).await;
    let (n, t) = super::apply(s, &mut applet, &cert).await;
    let first = payment(s, &n, &t, method, TITLE).await;
    mock.post(&format!("/_test/pay?out_trade_no={}&drop=1", first.id))
        .await;
    let second = payment(s, &n, &t, method, "深圳市另一家医疗器械有限公司").await;
    assert_ne!(first.id, second.id);
    mock.post(&format!("/_test/pay?out_trade_no={}", second.id))
        .await;
    mock.post(&format!("/_test/resend?out_trade_no={}", first.id))
        .await;
    assert_eq!(
        super::order(s, &n, &t).await.status,
        OrderStatus::UnderReview
    );
    assert_eq!(super::settle_refunds(s).await, 1);
    refunded_once(mock, &first).await;
    assert!(refunds_at(mock, &second.id).await.is_empty());
    assert_eq!(
        super::order(s, &n, &t).await.status,
        OrderStatus::UnderReview
    );
}

/// One payment taken and one `paid` step in the audit trail, however many notices came.
pub async fn assert_paid_once(s: &super::Server) {
    assert_eq!(
        s.count("SELECT COUNT(*) AS n FROM payments WHERE status = 'paid'")
            .await,
        1
    );
    assert_eq!(
        s.count("SELECT COUNT(*) AS n FROM audit WHERE to_status = 'paid'")
            .await,
        1
    );
}

/// A base64 signature with its first character changed (still base64, no longer valid).
pub fn bent(sig: &str) -> String {
    let first = if sig.starts_with('A') { "B" } else { "A" };
    format!("{first}{}", &sig[1..])
}
