//! A real server on a loopback port (SQLite, or PostgreSQL when CERTRENEW_TEST_POSTGRES is set)
//! and a virtual token holding a key and a certificate from that server's CA.
#![allow(dead_code, clippy::unwrap_used)]

pub mod mock;

use base64::Engine;
use ccid::piv::{Algorithm, Pin, Piv, Slot};
use certrenew_server::{AppState, Config, State};
use std::str::FromStr;
use token::keys::PrivateKey;
use token::PivApplet;

pub const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub struct Server {
    pub state: State,
    pub url: String,
    pub http: reqwest::Client,
    _dir: TempDir,
}

pub struct TempDir(pub std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The databases every store test runs on: SQLite always, PostgreSQL when the test script
/// started one (CERTRENEW_TEST_POSTGRES=postgres://…/postgres).
pub fn backends() -> Vec<&'static str> {
    let mut b = vec!["sqlite"];
    if std::env::var("CERTRENEW_TEST_POSTGRES").is_ok() {
        b.push("postgres");
    } else if std::env::var("CI").is_ok() {
        panic!("CI must run the store tests on PostgreSQL too: set CERTRENEW_TEST_POSTGRES");
    } else {
        eprintln!(
            "note: PostgreSQL not configured (CERTRENEW_TEST_POSTGRES); running on SQLite only"
        );
    }
    b
}

async fn database_url(backend: &str, dir: &std::path::Path) -> String {
    if backend == "sqlite" {
        return format!("sqlite://{}?mode=rwc", dir.join("test.db").display());
    }
    // A fresh database per test, so tests run in parallel without seeing each other.
    let admin = std::env::var("CERTRENEW_TEST_POSTGRES").unwrap();
    let name = format!("certrenew_{}", certrenew_server::random_id(6));
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let base = admin.rsplit_once('/').unwrap().0;
    format!("{base}/{name}")
}

impl Server {
    /// `SELECT COUNT(*) AS n …` run on the server's database.
    pub async fn count(&self, sql: &'static str) -> i64 {
        certrenew_server::store::sql::query(sql)
            .fetch_one(self.state.db.raw())
            .await
            .unwrap()
            .try_get("n")
            .unwrap()
    }

    pub async fn start(backend: &str, tune: impl FnOnce(&mut Config)) -> Server {
        Self::start_with(backend, tune, |_| certrenew_server::edge::Limits::default()).await
    }

    /// `start`, with the edge's limits chosen by the test.
    pub async fn start_with(
        backend: &str,
        tune: impl FnOnce(&mut Config),
        edge: impl FnOnce(&Config) -> certrenew_server::edge::Limits,
    ) -> Server {
        let dir =
            std::env::temp_dir().join(format!("certrenew-test-{}", certrenew_server::random_id(6)));
        std::fs::create_dir_all(&dir).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut config = Config::new(dir.clone(), url.clone());
        config.database_url = database_url(backend, &dir).await;
        config.rate_per_minute = 0;
        config.login_per_minute = 0;
        config.sandbox_payments = true;
        tune(&mut config);
        let (state, _) = AppState::open(config).await.unwrap();
        let app = certrenew_server::app(state.clone());
        // Served as `certrenew serve` serves: through the edge's limits.
        let limits = edge(&state.config);
        tokio::spawn(async move {
            certrenew_server::edge::serve(listener, app, limits)
                .await
                .unwrap()
        });
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        Server {
            state,
            url,
            http,
            _dir: TempDir(dir),
        }
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }

    /// A token with a P-256 key in 9A and a certificate from this CA expiring in `days_left`.
    pub async fn token(&self, days_left: i64) -> (PivApplet, Vec<u8>) {
        let mut applet = PivApplet::new();
        let key = PrivateKey::generate(Algorithm::EccP256).unwrap();
        let public = key.public_key();
        applet.install_key(Slot::Authentication, key);
        let t = certrenew_server::now();
        let subject =
            x509_cert::name::Name::from_str("CN=张三,O=深圳市某医疗器械有限公司,C=CN").unwrap();
        let der = certrenew_server::demo_certificate(
            &self.state,
            &subject,
            &public,
            t - 300 * 86_400,
            t + days_left * 86_400,
        )
        .await
        .unwrap();
        applet.install_certificate(Slot::Authentication, &der);
        (applet, der)
    }

    /// POSTs `body` as JSON to `/orders/{number}{tail}` with the order's token.
    pub async fn order_post<B: serde::Serialize>(
        &self,
        number: &str,
        token: &str,
        tail: &str,
        body: &B,
    ) -> reqwest::Response {
        self.http
            .post(self.api(&format!("/orders/{number}{tail}")))
            .header("x-order-token", token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Approves an order in the review console (logged in, with the CSRF token).
    pub async fn approve(&self, number: &str, csrf: &str) {
        let r = self
            .http
            .post(self.api(&format!("/admin/orders/{number}/approve")))
            .header("x-csrf-token", csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "approve {number}");
    }

    /// Rejects an order in the review console, with a reason.
    pub async fn reject(&self, number: &str, csrf: &str, reason: &str) {
        let r = self
            .http
            .post(self.api(&format!("/admin/orders/{number}/reject")))
            .header("x-csrf-token", csrf)
            .json(&serde_json::json!({ "reason": reason }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "reject {number}");
    }

    pub async fn admin_login(&self) -> String {
        certrenew_server::http::admin::create_admin(
            &self.state,
            "reviewer",
            "correct horse battery",
        )
        .await
        .unwrap();
        let r = self
            .http
            .post(self.api("/admin/login"))
            .json(&serde_json::json!({"username": "reviewer", "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let info: serde_json::Value = r.json().await.unwrap();
        info["csrf"].as_str().unwrap().to_string()
    }
}

/// Sends a request and gives its status code.
pub async fn status_of(req: reqwest::RequestBuilder) -> u16 {
    req.send().await.unwrap().status().as_u16()
}

pub fn form() -> api::ApplicationForm {
    api::ApplicationForm {
        period_months: 12,
        operator: api::Operator {
            id_type: api::IdType::ResidentId,
            id_number: "11010519491231002X".into(),
            name: "张三".into(),
            mobile: "13800138000".into(),
            email: "ops@supplier.cn".into(),
        },
        recipient: api::Recipient {
            name: "李四".into(),
            mobile: "13900139000".into(),
            address: "深圳市福田区某路1号".into(),
        },
    }
}

/// Signs `msg` on the token with the 9A key (PIN verified first).
pub fn sign_on_token(applet: &mut PivApplet, msg: &[u8]) -> Vec<u8> {
    let mut piv = Piv::new(applet);
    pollster::block_on(async {
        piv.select().await.unwrap();
        piv.verify_pin(&Pin::new(b"123456").unwrap()).await.unwrap();
        piv.sign_sha256(Slot::Authentication, Algorithm::EccP256, msg)
            .await
            .unwrap()
    })
}

/// The test's virtual token as the browser's protocol (`renewal`) reaches a token: moved in
/// (a card type without a lifetime keeps the protocol's futures `Send` for `tokio::spawn`), and
/// back with [`off_token`].
pub fn on_token(applet: &mut PivApplet) -> renewal::Direct<PivApplet> {
    renewal::Direct::new(std::mem::replace(applet, PivApplet::new()))
}

pub fn off_token(token: renewal::Direct<PivApplet>, applet: &mut PivApplet) {
    *applet = token.into_inner().unwrap();
}

/// The renewal API of this server, as the browser's protocol calls it (over reqwest).
pub fn client(s: &Server) -> renewal::http::Client {
    renewal::http::Client::new(s.http.clone(), s.url.clone())
}

/// The PIN entered, as on the PIN screen (the application is then signed without asking again).
pub async fn enter_pin(token: &renewal::Direct<PivApplet>) {
    use renewal::Token;
    token
        .with(async |piv| piv.verify_pin(&Pin::new(b"123456").unwrap()).await)
        .await
        .unwrap();
}

/// A complete application request from the token, with a fresh challenge (`renewal::application`,
/// the browser's code).
pub async fn application(
    s: &Server,
    applet: &mut PivApplet,
    cert: &[u8],
    form: &api::ApplicationForm,
) -> api::ApplicationRequest {
    let token = on_token(applet);
    enter_pin(&token).await;
    let req = renewal::application(&token, &client(s), cert, form).await;
    off_token(token, applet);
    req.unwrap()
}

/// POSTs an application as it is.
pub async fn submit(s: &Server, req: &api::ApplicationRequest) -> reqwest::Response {
    s.http
        .post(s.api("/applications"))
        .json(req)
        .send()
        .await
        .unwrap()
}

/// Applies and returns (order number, order token).
pub async fn apply(s: &Server, applet: &mut PivApplet, cert: &[u8]) -> (String, String) {
    let req = application(s, applet, cert, &form()).await;
    let r = submit(s, &req).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let token = r.headers()["x-order-token"].to_str().unwrap().to_string();
    let v: api::OrderView = r.json().await.unwrap();
    (v.number, token)
}

pub async fn order(s: &Server, number: &str, token: &str) -> api::OrderView {
    s.http
        .get(s.api(&format!("/orders/{number}")))
        .header("x-order-token", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Creates (or reuses) the order's payment with valid e-invoice details.
pub async fn new_payment(s: &Server, number: &str, token: &str) -> api::PaymentView {
    s.http
        .post(s.api(&format!("/orders/{number}/payments")))
        .header("x-order-token", token)
        .json(&serde_json::json!({"method": "alipay_qr", "invoice_title": "深圳市某医疗器械有限公司", "taxpayer_id": "91350100M000100Y43"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A person presses "pay" at the sandbox cashier.
pub async fn press_pay(s: &Server, p: &api::PaymentView) {
    let page = s
        .http
        .post(format!("{}/pay", p.cashier_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("支付成功"), "{page}");
}

/// Pays through the sandbox cashier and waits (bounded) for the notice to land.
pub async fn pay(s: &Server, number: &str, token: &str) -> api::OrderView {
    let p = new_payment(s, number, token).await;
    press_pay(s, &p).await;
    for _ in 0..100 {
        let v = order(s, number, token).await;
        if v.status != api::OrderStatus::AwaitingPayment {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the payment notice did not arrive in 5 s");
}

/// Runs openssl (which we did not write) in `dir`; its output, or a failure with its complaint.
pub fn openssl(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// OpenSSL verifies each of `certs` (DER) against the CA certificate `ca` and names `sig_alg` as
/// its signature algorithm. Leaves `ca.pem` in `dir`.
pub fn openssl_verifies(dir: &std::path::Path, ca: &[u8], certs: &[&[u8]], sig_alg: &str) {
    let pem = |name: &str, der: &[u8]| {
        std::fs::write(dir.join(format!("{name}.der")), der).unwrap();
        let (der, pem) = (format!("{name}.der"), format!("{name}.pem"));
        openssl(dir, &["x509", "-inform", "DER", "-in", &der, "-out", &pem]);
        pem
    };
    let ca = pem("ca", ca);
    for (i, cert) in certs.iter().enumerate() {
        let cert = pem(&format!("cert{i}"), cert);
        let out = openssl(dir, &["verify", "-CAfile", &ca, &cert]);
        assert!(out.trim_end().ends_with(": OK"), "{out}");
        let text = openssl(dir, &["x509", "-noout", "-text", "-in", &cert]);
        assert!(text.contains(sig_alg), "{sig_alg}: {text}");
    }
}

/// A token's certificate from this CA passes the application's chain check (the order awaits
/// payment); returns it and a renewal of it issued by the CA directly.
pub async fn applied_and_renewed(s: &Server) -> (Vec<u8>, Vec<u8>) {
    let (mut applet, der) = s.token(30).await;
    let (number, token) = apply(s, &mut applet, &der).await;
    assert_eq!(
        order(s, &number, &token).await.status,
        api::OrderStatus::AwaitingPayment
    );
    let old = <x509_cert::Certificate as der::Decode>::from_der(&der).unwrap();
    let renewed = s
        .state
        .ca
        .issue_renewal(
            &old,
            &ccid::cert::public_key(&old).unwrap(),
            0,
            2_000_000_000,
            &certrenew_server::ca::random_serial(),
        )
        .unwrap();
    (der, renewed)
}

/// A PKCS#10 request for the token's own 9A key and the certificate's subject (PIN verified).
pub fn csr_on_token(applet: &mut PivApplet, cert: &[u8]) -> Vec<u8> {
    let old = <x509_cert::Certificate as der::Decode>::from_der(cert).unwrap();
    let key = ccid::cert::public_key(&old).unwrap();
    let mut piv = Piv::new(applet);
    pollster::block_on(async {
        piv.select().await.unwrap();
        piv.verify_pin(&Pin::new(b"123456").unwrap()).await.unwrap();
        ccid::cert::build_csr(
            &mut piv,
            Slot::Authentication,
            old.tbs_certificate().subject(),
            &key,
        )
        .await
        .unwrap()
    })
}

/// Asks the CA for the order's certificate with a request from the token; the raw answer.
pub async fn request_certificate(
    s: &Server,
    applet: &mut PivApplet,
    cert: &[u8],
    number: &str,
    token: &str,
) -> reqwest::Response {
    let csr = csr_on_token(applet, cert);
    s.order_post(
        number,
        token,
        "/certificate",
        &api::IssueRequest {
            csr: B64.encode(csr),
        },
    )
    .await
}

/// The certificate issued for an approved order (asserts it was).
pub async fn issue_certificate(
    s: &Server,
    applet: &mut PivApplet,
    cert: &[u8],
    number: &str,
    token: &str,
) -> Vec<u8> {
    let r = request_certificate(s, applet, cert, number, token).await;
    assert_eq!(r.status(), 200, "issue {number}");
    let issued: api::IssueResponse = r.json().await.unwrap();
    B64.decode(&issued.certificate).unwrap()
}

/// Revokes a certificate through the review console (logged in as `csrf`'s session).
pub async fn revoke_certificate(s: &Server, csrf: &str, cert: &[u8], reason: &str) -> u16 {
    let serial = ccid::cert::summarize(cert, 0).unwrap().serial;
    status_of(
        s.http
            .post(s.api(&format!("/admin/certificates/{serial}/revoke")))
            .header("x-csrf-token", csrf)
            .json(&serde_json::json!({ "reason": reason })),
    )
    .await
}

/// The stored status of a payment.
pub async fn payment_status(s: &Server, id: &str) -> String {
    certrenew_server::store::sql::query("SELECT status FROM payments WHERE id = $1")
        .bind(id)
        .fetch_one(s.state.db.raw())
        .await
        .unwrap()
        .try_get("status")
        .unwrap()
}

/// Asks for the previous renewal's details as the key holder (a fresh challenge signed on the
/// token); the raw answer.
pub async fn prefill(s: &Server, applet: &mut PivApplet, der: &[u8]) -> reqwest::Response {
    let c: api::Challenge = s
        .http
        .post(s.api("/challenges"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sig = sign_on_token(applet, &api::prefill_message(&c.nonce, der));
    s.http
        .post(s.api("/prefill"))
        .json(&api::PrefillRequest {
            challenge_id: c.id,
            certificate: B64.encode(der),
            signature: B64.encode(sig),
        })
        .send()
        .await
        .unwrap()
}

/// Confirms the install of `new_der` with the token's proof; the raw answer.
pub async fn confirm_install(
    s: &Server,
    applet: &mut PivApplet,
    number: &str,
    token: &str,
    new_der: &[u8],
) -> reqwest::Response {
    let serial = ccid::cert::summarize(new_der, 0).unwrap().serial;
    let proof = sign_on_token(applet, &api::install_proof_message(number, &serial));
    s.order_post(
        number,
        token,
        "/confirm",
        &api::ConfirmRequest {
            signature: B64.encode(proof),
        },
    )
    .await
}

/// Relays a (dummy) management-key witness for the order; the raw answer.
pub async fn ask_management_key(s: &Server, number: &str, token: &str) -> reqwest::Response {
    s.order_post(
        number,
        token,
        "/management-key",
        &api::ManagementWitness {
            witness: B64.encode([0u8; 16]),
        },
    )
    .await
}

/// Runs the refund job until no refund is pending (bounded; retries are made due at once, the
/// backoff is not what is tested); how many the provider confirmed.
pub async fn settle_refunds(s: &Server) -> usize {
    let mut confirmed = 0;
    for _ in 0..20 {
        if s.count("SELECT COUNT(*) AS n FROM refunds WHERE status = 'pending'")
            .await
            == 0
        {
            break;
        }
        certrenew_server::store::sql::query(
            "UPDATE refunds SET next_at = 0 WHERE status = 'pending'",
        )
        .execute(s.state.db.raw())
        .await
        .unwrap();
        confirmed += certrenew_server::refund::run(&s.state).await.unwrap();
    }
    confirmed
}

/// The refunds the provider (the sandbox's books) made for a payment, and their sum in fen.
pub async fn provider_refunds(s: &Server, payment_id: &str) -> (i64, i64) {
    let r = certrenew_server::store::sql::query("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS fen FROM sandbox_alipay_refunds WHERE out_trade_no = $1")
        .bind(payment_id)
        .fetch_one(s.state.db.raw())
        .await
        .unwrap();
    (r.try_get("n").unwrap(), r.try_get("fen").unwrap())
}

/// The payer paid at the provider just before the close reached it (the race a late notice
/// comes from): the sandbox's books mark the trade paid. Its trade number.
pub async fn provider_paid(s: &Server, payment_id: &str) -> String {
    certrenew_server::store::sql::query("UPDATE sandbox_alipay_trades SET status = 'TRADE_SUCCESS', paid_at = 1 WHERE out_trade_no = $1")
        .bind(payment_id)
        .execute(s.state.db.raw())
        .await
        .unwrap();
    certrenew_server::store::sql::query(
        "SELECT trade_no FROM sandbox_alipay_trades WHERE out_trade_no = $1",
    )
    .bind(payment_id)
    .fetch_one(s.state.db.raw())
    .await
    .unwrap()
    .try_get("trade_no")
    .unwrap()
}

/// One whole renewal on a server that auto-approves, request by request: apply, pay in the
/// sandbox, poll the order until approved, issue, confirm. Gives the order number and how many
/// times the order was polled.
pub async fn renew_auto_approved(s: &Server) -> (String, u32) {
    let (mut applet, der) = s.token(30).await;
    renew_token(s, &mut applet, &der).await
}

/// The install of an approved order as the browser runs it (`renewal::install`: CSR, issue,
/// management key, write, read back, proof, confirm); the new certificate and the order, installed.
pub async fn install(
    s: &Server,
    applet: &mut PivApplet,
    der: &[u8],
    number: &str,
    order_token: &str,
) -> (Vec<u8>, api::OrderView) {
    let approved = order(s, number, order_token).await;
    let token = on_token(applet);
    let pin = Pin::new(b"123456").unwrap();
    let done = renewal::install(
        &token,
        &client(s),
        &approved,
        order_token,
        der,
        &pin,
        0,
        |_| {},
    )
    .await;
    off_token(token, applet);
    let done = done.unwrap_or_else(|e| panic!("install {number}: {e:?}"));
    assert_eq!(done.order.status, api::OrderStatus::Installed);
    (done.certificate, done.order)
}

/// `renew_auto_approved` for a token made by the caller: the browser's code (`renewal::apply`,
/// `renewal::install`) with the sandbox's payment and the polling in between.
pub async fn renew_token(s: &Server, applet: &mut PivApplet, der: &[u8]) -> (String, u32) {
    let token = on_token(applet);
    let api = client(s);
    enter_pin(&token).await;
    let (v, order_token) = renewal::apply(&token, &api, der, &form()).await.unwrap();
    let number = v.number;
    let p = new_payment(s, &number, &order_token).await;
    press_pay(s, &p).await;
    let mut polls = 0;
    let approved = loop {
        polls += 1;
        let v = order(s, &number, &order_token).await;
        if v.status == api::OrderStatus::Approved {
            break v;
        }
        assert!(polls < 200, "the payment notice did not arrive");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    let pin = Pin::new(b"123456").unwrap();
    let now = certrenew_server::now();
    let done = renewal::install(
        &token,
        &api,
        &approved,
        &order_token,
        der,
        &pin,
        now,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(done.order.status, api::OrderStatus::Installed);
    off_token(token, applet);
    (number, polls)
}
