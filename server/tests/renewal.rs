//! The whole renewal through the real router over HTTP, on SQLite and PostgreSQL:
//! challenge → application → pay → notice → approve → issue → install → confirm → invoice.
#![allow(clippy::unwrap_used)]

mod common;

use api::OrderStatus;
use ccid::keys::ManagementKey;
use ccid::piv::{Piv, Slot};
use common::*;
use der::{Decode, Encode};
use x509_cert::Certificate;

#[tokio::test]
async fn happy_path() {
    for backend in backends() {
        happy_path_on(backend).await;
    }
}

async fn happy_path_on(backend: &str) {
    let s = Server::start(backend, |_| {}).await;
    certrenew_server::jobs::spawn_outbox(s.state.clone());
    let (mut applet, old_der) = s.token(30).await;
    let (number, token) = apply(&s, &mut applet, &old_der).await;
    assert!(number.starts_with("01") && number.len() == 17, "{number}");
    let v = order(&s, &number, &token).await;
    assert_eq!(
        (v.status, v.progress_step, v.fee_fen),
        (OrderStatus::AwaitingPayment, 2, 20_000)
    );
    let old = Certificate::from_der(&old_der).unwrap();
    let old_not_after = old
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration()
        .as_secs() as i64;
    assert_eq!(
        v.new_not_after,
        certrenew_server::add_months(old_not_after, 12)
    );

    // Without the order token nobody sees the order.
    let r = s
        .http
        .get(s.api(&format!("/orders/{number}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let v = pay(&s, &number, &token).await;
    assert_eq!(
        (v.status, v.progress_step),
        (OrderStatus::UnderReview, 3),
        "{backend}"
    );
    assert!(v.payment.unwrap().paid);

    let csrf = s.admin_login().await;
    let queue: Vec<serde_json::Value> = s
        .http
        .get(s.api("/admin/orders"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = queue
        .iter()
        .find(|o| o["number"] == number.as_str())
        .expect("order in the review queue");
    assert_eq!(
        listed["operator_id"], "110***********002X",
        "ID numbers are masked in lists"
    );
    assert_eq!(listed["operator_mobile"], "138****8000");
    let r = s
        .http
        .post(s.api(&format!("/admin/orders/{number}/approve")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "approve without the CSRF token is refused");
    let r = s
        .http
        .post(s.api(&format!("/admin/orders/{number}/approve")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(order(&s, &number, &token).await.progress_step, 4);

    // Install: a PKCS#10 request signed on the token with its existing key.
    let csr = {
        let mut piv = Piv::new(&mut applet);
        pollster::block_on(async {
            piv.select().await.unwrap();
            piv.verify_pin(&ccid::piv::Pin::new(b"123456").unwrap())
                .await
                .unwrap();
            let key = ccid::cert::public_key(&old).unwrap();
            ccid::cert::build_csr(
                &mut piv,
                Slot::Authentication,
                old.tbs_certificate().subject(),
                &key,
            )
            .await
            .unwrap()
        })
    };
    let issue = |csr: Vec<u8>| {
        let (s, number, token) = (&s, number.clone(), token.clone());
        async move {
            s.http
                .post(s.api(&format!("/orders/{number}/certificate")))
                .header("x-order-token", token)
                .json(&api::IssueRequest {
                    csr: base64::Engine::encode(&B64, csr),
                })
                .send()
                .await
                .unwrap()
        }
    };
    let r = issue(csr.clone()).await;
    assert_eq!(r.status(), 200);
    let issued: api::IssueResponse = r.json().await.unwrap();
    let new_der = base64::Engine::decode(&B64, &issued.certificate).unwrap();
    let new = Certificate::from_der(&new_der).unwrap();
    assert_eq!(
        new.tbs_certificate().subject().to_der().unwrap(),
        old.tbs_certificate().subject().to_der().unwrap(),
        "same subject bytes"
    );
    assert_ne!(
        new.tbs_certificate().serial_number(),
        old.tbs_certificate().serial_number()
    );
    assert_eq!(
        new.tbs_certificate()
            .validity()
            .not_after
            .to_unix_duration()
            .as_secs() as i64,
        certrenew_server::add_months(old_not_after, 12)
    );
    assert!(s.state.ca.issued(&new));
    // Extensions carried over once each; the locations (OCSP + CA issuers, CRL) point at this
    // server, replacing any the old certificate had.
    let oids: Vec<String> = new
        .tbs_certificate()
        .extensions()
        .unwrap()
        .iter()
        .map(|e| e.extn_id.to_string())
        .collect();
    for oid in ["2.5.29.14", "2.5.29.35", "1.3.6.1.5.5.7.1.1", "2.5.29.31"] {
        assert_eq!(
            oids.iter().filter(|o| *o == oid).count(),
            1,
            "{oid} in {oids:?}"
        );
    }
    let contains = |needle: &str| {
        new_der
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    };
    assert!(contains(&s.api("/ocsp")) && contains(&s.api("/ca")) && contains(&s.api("/crl")));
    assert_eq!(
        ccid::cert::public_key(&new).unwrap(),
        ccid::cert::public_key(&old).unwrap(),
        "same key"
    );
    // Asking again (page reloaded mid-install) returns the same certificate.
    let again: api::IssueResponse = issue(csr).await.json().await.unwrap();
    assert_eq!(again.certificate, issued.certificate);

    // Write it to the token, read it back, prove the key matches, confirm.
    let summary = ccid::cert::summarize(&new_der, certrenew_server::now()).unwrap();
    let proof = {
        let mut piv = Piv::new(&mut applet);
        pollster::block_on(async {
            piv.select().await.unwrap();
            piv.authenticate(&ManagementKey::default_tdes())
                .await
                .unwrap();
            piv.write_certificate(Slot::Authentication, &new_der)
                .await
                .unwrap();
            assert_eq!(
                piv.read_certificate(Slot::Authentication)
                    .await
                    .unwrap()
                    .unwrap(),
                new_der
            );
        });
        sign_on_token(
            &mut applet,
            &api::install_proof_message(&number, &summary.serial),
        )
    };
    let r = s
        .http
        .post(s.api(&format!("/orders/{number}/confirm")))
        .header("x-order-token", &token)
        .json(&serde_json::json!({"signature": base64::Engine::encode(&B64, &proof)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: api::OrderView = r.json().await.unwrap();
    assert_eq!((v.status, v.progress_step), (OrderStatus::Installed, 5));
    let inv = v.invoice.expect("invoice issued on installation");
    assert_eq!(inv.total_fen, 20_000);
    assert_eq!(inv.amount_fen + inv.tax_fen, 20_000);
    assert_eq!(inv.number.len(), 20);
    assert_eq!(inv.buyer_taxpayer_id, "91350100M000100Y43");
    let outbox = s.count("SELECT COUNT(*) AS n FROM outbox").await;
    assert_eq!(outbox, 2, "notice by e-mail and SMS");
    // The installation wakes the outbox's task: both leave at once, not at the next minute's run.
    let queued = std::time::Instant::now();
    while unsent_notices(&s).await > 0 {
        assert!(
            queued.elapsed() < std::time::Duration::from_secs(5),
            "notices still queued"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let filed = filed_notices(&s);
    assert_eq!(filed.len(), 2, "{filed:?}");
    assert!(
        filed[0].contains("Kind: email\nTo: ops@supplier.cn\n") && filed[0].contains(&inv.number)
    );
    assert!(filed[1].contains("Kind: sms\nTo: 13800138000\n") && filed[1].contains(&inv.number));
    // applied→awaiting, paid, under review, approved, issued, installed.
    assert_eq!(s.state.db.audit_count(&number).await.unwrap(), 6);
    // Written by the database's trigger with each transition: who, from → to, and the note.
    let trail: Vec<(String, String, String, String)> = certrenew_server::store::sql::query(
        "SELECT actor, from_status, to_status, note FROM audit WHERE order_number = $1 ORDER BY id",
    )
    .bind(&number)
    .fetch_all(s.state.db.raw())
    .await
    .unwrap()
    .iter()
    .map(|r| {
        let get = |c: &str| r.try_get::<String>(c).unwrap();
        (
            get("actor"),
            get("from_status"),
            get("to_status"),
            get("note"),
        )
    })
    .collect();
    let steps: Vec<(&str, &str, &str)> = trail
        .iter()
        .map(|(a, f, t, _)| (a.as_str(), f.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("applicant", "applied", "awaiting_payment"),
            ("payment", "awaiting_payment", "paid"),
            ("system", "paid", "under_review"),
            ("reviewer", "under_review", "approved"),
            ("ca", "approved", "issued"),
            ("applicant", "issued", "installed"),
        ]
    );
    assert!(
        trail[4].3.len() >= 16 && trail[4].3.chars().all(|c| c.is_ascii_hexdigit()),
        "issued: the new serial, {trail:?}"
    );
    // The renewed certificate can apply again later (registry knows it), the old order is closed.
    let again = s
        .http
        .post(s.api(&format!("/orders/{number}/cancel")))
        .header("x-order-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        409,
        "an installed order cannot be cancelled"
    );
}

#[tokio::test]
async fn demo_certificates_only_in_demo_mode() {
    let key = token::keys::PrivateKey::generate(ccid::piv::Algorithm::EccP256)
        .unwrap()
        .public_key();
    let body =
        serde_json::json!({"public_key": base64::Engine::encode(&B64, key.to_spki_der().unwrap())});
    let s = Server::start("sqlite", |_| {}).await;
    let r = s
        .http
        .post(s.api("/demo/certificate"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "a production CA issues nothing to strangers"
    );
    let s = Server::start("sqlite", |c| c.demo = true).await;
    let r: api::IssueResponse = s
        .http
        .post(s.api("/demo/certificate"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let der = base64::Engine::decode(&B64, r.certificate).unwrap();
    let summary = ccid::cert::summarize(&der, certrenew_server::now()).unwrap();
    assert!(
        (29..=30).contains(&summary.days_left),
        "{}",
        summary.days_left
    );
    assert!(s.state.ca.issued(&ccid::cert::parse(&der).unwrap()));
    assert_eq!(
        ccid::cert::public_key(&ccid::cert::parse(&der).unwrap()).unwrap(),
        key
    );
}

#[tokio::test]
async fn previous_details_only_for_the_key_holder() {
    let s = Server::start("sqlite", |_| {}).await;
    let (mut applet, der) = s.token(30).await;
    let first: api::Prefill = prefill(&s, &mut applet, &der).await.json().await.unwrap();
    assert_eq!(
        first,
        api::Prefill::default(),
        "nothing before the first renewal"
    );
    let (number, token) = apply(&s, &mut applet, &der).await;
    pay(&s, &number, &token).await;
    let again: api::Prefill = prefill(&s, &mut applet, &der).await.json().await.unwrap();
    // The ID number never leaves whole (it is typed again; the mask is a hint).
    assert_eq!(again.form.unwrap().operator.id_number, "110***********002X");
    assert_eq!(again.taxpayer_id.as_deref(), Some("91350100M000100Y43"));
    // Another token cannot see them, even with the right certificate in hand.
    let (mut stranger, _) = s.token(30).await;
    assert_eq!(prefill(&s, &mut stranger, &der).await.status(), 403);
}

#[tokio::test]
async fn renewal_info_reminders_and_outbox() {
    let s = Server::start("sqlite", |_| {}).await;
    let (mut applet, der) = s.token(20).await;
    let cert = ccid::cert::parse(&der).unwrap();
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let id = format!(
        "{}.{}",
        base64::Engine::encode(&url, s.state.ca.key_id()),
        base64::Engine::encode(&url, cert.tbs_certificate().serial_number().as_bytes())
    );
    let r = s
        .http
        .get(s.api(&format!("/renewal-info/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["retry-after"], "21600");
    let info: serde_json::Value = r.json().await.unwrap();
    let not_after = cert
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration()
        .as_secs() as i64;
    assert_eq!(
        info["suggestedWindow"]["end"],
        certrenew_server::rfc3339(not_after)
    );
    assert_eq!(
        info["suggestedWindow"]["start"],
        certrenew_server::rfc3339(not_after - 90 * 86_400)
    );
    let bad = format!(
        "{}.{}",
        base64::Engine::encode(&url, [0u8; 20]),
        base64::Engine::encode(&url, [1u8])
    );
    assert_eq!(
        s.http
            .get(s.api(&format!("/renewal-info/{bad}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // A reminder needs contacts: they come from an earlier application for the subject.
    let (number, token) = apply(&s, &mut applet, &der).await;
    s.http
        .post(s.api(&format!("/orders/{number}/cancel")))
        .header("x-order-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        certrenew_server::jobs::queue_reminders(&s.state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        certrenew_server::jobs::queue_reminders(&s.state)
            .await
            .unwrap(),
        0,
        "once per certificate"
    );
    assert_eq!(
        certrenew_server::jobs::deliver_outbox(&s.state)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        certrenew_server::jobs::deliver_outbox(&s.state)
            .await
            .unwrap(),
        0
    );
    let filed = filed_notices(&s);
    assert_eq!(filed.len(), 2);
    assert!(filed
        .iter()
        .any(|f| f.contains("To: ops@supplier.cn") && f.contains("天后到期")));
}

/// The notices written to the day's files in `outbox/` (no relay or gateway configured).
fn filed_notices(s: &Server) -> Vec<String> {
    let mut text = String::new();
    for e in std::fs::read_dir(s.state.config.data_dir.join("outbox")).unwrap() {
        text += &std::fs::read_to_string(e.unwrap().path()).unwrap();
    }
    let end = format!("\n{}\n", certrenew_server::notify::SEPARATOR);
    text.split(&end)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A payment whose notice never arrives (dropped by the sandbox on purpose) is found by the
/// reconciliation job asking the provider; an unpaid one is left alone; repeats change nothing.
#[tokio::test]
async fn lost_notices_are_found_by_reconciliation() {
    for backend in backends() {
        let s = Server::start(backend, |c| {
            c.sandbox_drop_notices = true;
            c.reconcile_after_secs = 0;
        })
        .await;
        let (mut applet, der) = s.token(30).await;
        let (paid_number, paid_token) = apply(&s, &mut applet, &der).await;
        let p = new_payment(&s, &paid_number, &paid_token).await;
        press_pay(&s, &p).await;
        let (mut other, other_der) = s.token(30).await;
        let (unpaid_number, unpaid_token) = apply(&s, &mut other, &other_der).await;
        let _unpaid = new_payment(&s, &unpaid_number, &unpaid_token).await;

        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(
            order(&s, &paid_number, &paid_token).await.status,
            OrderStatus::AwaitingPayment,
            "{backend}: the notice was dropped"
        );
        let found = certrenew_server::jobs::reconcile_payments(&s.state)
            .await
            .unwrap();
        assert_eq!(found, 1, "{backend}");
        assert_eq!(
            order(&s, &paid_number, &paid_token).await.status,
            OrderStatus::UnderReview,
            "{backend}"
        );
        assert_eq!(
            order(&s, &unpaid_number, &unpaid_token).await.status,
            OrderStatus::AwaitingPayment,
            "{backend}: nothing paid, nothing recorded"
        );
        assert_eq!(
            certrenew_server::jobs::reconcile_payments(&s.state)
                .await
                .unwrap(),
            0,
            "{backend}: a second run finds nothing new"
        );
        assert_eq!(
            certrenew_server::store::check::invariants(&s.state.db)
                .await
                .unwrap(),
            Vec::<String>::new(),
            "{backend}"
        );
    }
}

/// The next line a child process prints, waiting at most 10 s.
async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut tokio::io::Lines<R>,
) -> Option<String> {
    tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
        .await
        .ok()?
        .ok()?
}

/// Notices leave by SMTP (to Python's smtpd, a server we did not write) and through the SMS
/// gateway when those are configured; one that cannot be delivered stays queued.
#[tokio::test]
async fn notices_go_by_smtp_and_the_sms_gateway() {
    use tokio::io::AsyncBufReadExt;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut sink = tokio::process::Command::new("python3")
        .args(["-W", "ignore"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py"))
        .arg(port.to_string())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let mut lines = tokio::io::BufReader::new(sink.stdout.take().unwrap()).lines();
    assert_eq!(next_line(&mut lines).await.as_deref(), Some("ready"));

    // The SMS gateway: records what it is sent.
    let texts = std::sync::Arc::new(std::sync::Mutex::new(Vec::<serde_json::Value>::new()));
    let gateway = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway_url = format!("http://{}/send", gateway.local_addr().unwrap());
    let record = texts.clone();
    let app = axum::Router::new().route(
        "/send",
        axum::routing::post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(gateway, app).await.unwrap() });

    let s = Server::start("sqlite", |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.smtp_from = "证书续期 <noreply@ca.example.cn>".into();
        c.sms_gateway = Some(gateway_url.clone());
    })
    .await;
    let queue = |kind: &'static str, to: &'static str| {
        certrenew_server::store::sql::query("INSERT INTO outbox (kind, recipient, subject, body, created_at) VALUES ($1, $2, $3, $4, 0)")
            .bind(kind)
            .bind(to)
            .bind("数字证书续期完成")
            .bind("您的证书已续期至 2027-12-24。")
            .execute(s.state.db.raw())
    };
    queue("email", "ops@supplier.cn").await.unwrap();
    queue("sms", "13800138000").await.unwrap();
    assert_eq!(
        certrenew_server::jobs::deliver_outbox(&s.state)
            .await
            .unwrap(),
        2
    );
    let mail: serde_json::Value =
        serde_json::from_str(&next_line(&mut lines).await.unwrap()).unwrap();
    assert_eq!(mail["to"], serde_json::json!(["ops@supplier.cn"]));
    assert_eq!(mail["from"], "证书续期 <noreply@ca.example.cn>");
    assert_eq!(mail["subject"], "数字证书续期完成");
    assert_eq!(mail["body"], "您的证书已续期至 2027-12-24。");
    assert_eq!(
        texts.lock().unwrap().clone(),
        vec![
            serde_json::json!({"to": "13800138000", "text": "数字证书续期完成：您的证书已续期至 2027-12-24。"})
        ]
    );
    // Nothing left to send; nothing went to files.
    assert_eq!(
        certrenew_server::jobs::deliver_outbox(&s.state)
            .await
            .unwrap(),
        0
    );
    assert!(!s.state.config.data_dir.join("outbox").exists());

    // The relay goes away: the notice waits in the outbox instead of being lost.
    sink.kill().await.unwrap();
    queue("email", "ops@supplier.cn").await.unwrap();
    assert_eq!(
        certrenew_server::jobs::deliver_outbox(&s.state)
            .await
            .unwrap(),
        0
    );
    assert_eq!(unsent_notices(&s).await, 1);
}

/// A channel that fails is tried once per run, not once per notice (an attempt can take 20 s):
/// its notices wait for the next run, and the other channel's leave meanwhile.
#[tokio::test]
async fn a_failing_channel_is_tried_once_per_run() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let gateway = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway_url = format!("http://{}/send", gateway.local_addr().unwrap());
    let counted = hits.clone();
    let app = axum::Router::new().route(
        "/send",
        axum::routing::post(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "busy") }
        }),
    );
    tokio::spawn(async move { axum::serve(gateway, app).await.unwrap() });
    let s = Server::start("sqlite", |c| c.sms_gateway = Some(gateway_url.clone())).await;
    for (kind, to) in [
        ("sms", "13800138000"),
        ("email", "ops@supplier.cn"),
        ("sms", "13900139000"),
        ("sms", "13700137000"),
    ] {
        certrenew_server::store::sql::query("INSERT INTO outbox (kind, recipient, subject, body, created_at) VALUES ($1, $2, '数字证书续期完成', '您的证书已续期。', 0)")
            .bind(kind)
            .bind(to)
            .execute(s.state.db.raw())
            .await
            .unwrap();
    }
    assert_eq!(
        certrenew_server::jobs::deliver_outbox(&s.state)
            .await
            .unwrap(),
        1,
        "the e-mail (to a file)"
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(unsent_notices(&s).await, 3);
}

/// Several servers on one database each run the outbox task: a notice leaves once, not once per
/// server. On PostgreSQL two servers (two connection pools) deliver at the same time; on SQLite
/// (one server per data directory) two runs of one server do.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_notice_leaves_once_when_servers_deliver_at_once() {
    const QUEUED: usize = 300;
    for backend in backends() {
        let s = Server::start(backend, |_| {}).await;
        let other = if backend == "postgres" {
            certrenew_server::AppState::open(s.state.config.clone())
                .await
                .unwrap()
                .0
        } else {
            s.state.clone()
        };
        let mut tx = s.state.db.begin().await.unwrap();
        for i in 0..QUEUED {
            certrenew_server::store::sql::query("INSERT INTO outbox (kind, recipient, subject, body, created_at) VALUES ('email', $1, '数字证书续期完成', '您的证书已续期。', 0)")
                .bind(format!("ops{i}@supplier.cn"))
                .execute(&mut tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let mut delivered = 0;
        loop {
            let (a, b) = tokio::join!(
                certrenew_server::jobs::deliver_outbox(&s.state),
                certrenew_server::jobs::deliver_outbox(&other)
            );
            let n = a.unwrap() + b.unwrap();
            if n == 0 {
                break;
            }
            delivered += n;
            assert!(delivered <= QUEUED, "{backend}: {delivered} deliveries");
        }
        assert_eq!(delivered, QUEUED, "{backend}");
        let mut ids: Vec<String> = filed_notices(&s)
            .iter()
            .map(|n| n.lines().next().unwrap().to_owned())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), QUEUED, "{backend}: each notice filed once");
        assert_eq!(filed_notices(&s).len(), QUEUED, "{backend}");
        assert_eq!(unsent_notices(&s).await, 0, "{backend}");
    }
}

async fn unsent_notices(s: &Server) -> i64 {
    s.count("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL")
        .await
}

/// Through a relay that insists on STARTTLS and a login (aiosmtpd, which we did not write): the
/// notice leaves encrypted and authenticated when the relay's certificate chains to `--smtp-ca`
/// and the password is right; with a wrong password or an untrusted certificate it stays queued.
#[tokio::test]
async fn notices_go_through_a_relay_requiring_starttls_and_login() {
    use tokio::io::AsyncBufReadExt;
    let dir = std::env::temp_dir().join(format!("smtp-tls-{}", certrenew_server::random_id(6)));
    std::fs::create_dir_all(&dir).unwrap();
    // A private CA and the relay's certificate for 127.0.0.1, made by OpenSSL.
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &dir,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=Relay test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &dir,
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "relay.key",
                "-out",
                "relay.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "relay.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "relay.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut relay = tokio::process::Command::new("python3")
        .args(["-W", "ignore"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/smtp_tls_relay.py"
        ))
        .arg(port.to_string())
        .args([dir.join("relay.pem"), dir.join("relay.key")])
        .args(["mailer@ca.example.cn", "s3cret"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let mut lines = tokio::io::BufReader::new(relay.stdout.take().unwrap()).lines();
    assert_eq!(
        next_line(&mut lines).await.as_deref(),
        Some("ready"),
        "aiosmtpd missing? scripts/setup native installs it (pip install aiosmtpd)"
    );
    let url = format!("smtp://mailer%40ca.example.cn@127.0.0.1:{port}?tls=required");
    let start = |password: &'static str, ca: Option<std::path::PathBuf>| {
        let url = url.clone();
        Server::start("sqlite", move |c| {
            c.smtp_url = Some(url);
            c.smtp_password = Some(password.into());
            c.smtp_ca = ca;
            c.smtp_from = "noreply@ca.example.cn".into();
        })
    };
    let queue_and_deliver = |s: &Server| {
        let (db, state) = (s.state.db.raw().clone(), s.state.clone());
        async move {
            certrenew_server::store::sql::query("INSERT INTO outbox (kind, recipient, subject, body, created_at) VALUES ('email', 'ops@supplier.cn', '数字证书续期完成', '您的证书已续期。', 0)")
                .execute(&db)
                .await
                .unwrap();
            certrenew_server::jobs::deliver_outbox(&state)
                .await
                .unwrap()
        }
    };
    let json =
        |l: Option<String>| -> serde_json::Value { serde_json::from_str(&l.unwrap()).unwrap() };

    let s = start("s3cret", Some(dir.join("ca.pem"))).await;
    assert_eq!(queue_and_deliver(&s).await, 1);
    let login = json(next_line(&mut lines).await);
    assert_eq!(
        (login["ok"].as_bool(), login["tls"].as_bool()),
        (Some(true), Some(true)),
        "{login}"
    );
    let mail = json(next_line(&mut lines).await);
    assert_eq!(mail["to"], serde_json::json!(["ops@supplier.cn"]));
    assert_eq!(mail["subject"], "数字证书续期完成");
    assert_eq!(
        (mail["tls"].as_bool(), mail["authenticated"].as_bool()),
        (Some(true), Some(true)),
        "{mail}"
    );

    // A wrong password: refused by the relay, the notice waits.
    let s = start("wrong", Some(dir.join("ca.pem"))).await;
    assert_eq!(queue_and_deliver(&s).await, 0);
    let login = json(next_line(&mut lines).await);
    assert_eq!(login["ok"].as_bool(), Some(false), "{login}");
    // The relay's certificate against the public roots only: no TLS session, so no password sent.
    let s = start("s3cret", None).await;
    assert_eq!(queue_and_deliver(&s).await, 0);
    assert_eq!(unsent_notices(&s).await, 1);
    relay.kill().await.unwrap();
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), lines.next_line())
            .await
            .map_or(true, |l| l.ok().flatten().is_none()),
        "no login attempt over an untrusted connection"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The token's management key is not the default and only the CA holds it (DESIGN §7): the
/// install authenticates through the server, which never hands the key out; after the install the
/// key is filed under the new certificate for next year.
#[tokio::test]
async fn install_with_a_management_key_only_the_ca_holds() {
    for backend in backends() {
        let s = Server::start(backend, |_| {}).await;
        let (mut applet, der) = s.token(30).await;
        let secret = ManagementKey::new(ccid::piv::Algorithm::Aes256, &[0x3C; 32]).unwrap();
        applet.set_management_key(secret.clone());
        let serial = ccid::cert::summarize(&der, 0).unwrap().serial;
        s.state
            .db
            .set_management_key(&serial, &secret, 0)
            .await
            .unwrap();
        let (number, token) = apply(&s, &mut applet, &der).await;
        assert_eq!(
            order(&s, &number, &token).await.management_key_algorithm,
            None,
            "{backend}: only told at the install stage"
        );
        // Not before the install stage.
        {
            let r = s
                .order_post(
                    &number,
                    &token,
                    "/management-key",
                    &api::ManagementWitness {
                        witness: base64::Engine::encode(&B64, [0u8; 16]),
                    },
                )
                .await;
            assert_eq!(r.status(), 409, "{backend}: refused while unpaid");
        }
        pay(&s, &number, &token).await;
        let csrf = s.admin_login().await;
        s.approve(&number, &csrf).await;
        assert_eq!(
            order(&s, &number, &token).await.management_key_algorithm,
            Some(0x0C),
            "{backend}"
        );
        // The default key is refused by this token; the server's answer gets it in.
        {
            let mut piv = Piv::new(&mut applet);
            piv.select().await.unwrap();
            assert_eq!(
                piv.authenticate(&ManagementKey::default_tdes()).await,
                Err(ccid::piv::PivError::WrongManagementKey),
                "{backend}"
            );
        }
        // The browser's install (`renewal::install`): the witness and challenge relayed to the CA.
        let approved = order(&s, &number, &token).await;
        let on = on_token(&mut applet);
        let pin = ccid::piv::Pin::new(b"123456").unwrap();
        let done =
            renewal::install(&on, &client(&s), &approved, &token, &der, &pin, 0, |_| {}).await;
        off_token(on, &mut applet);
        let done = done.unwrap_or_else(|e| panic!("{backend}: {e:?}"));
        assert_eq!(done.order.status, api::OrderStatus::Installed, "{backend}");
        let new_serial = done.summary.serial;
        // Next year's renewal starts from the new certificate: the key is filed under it.
        assert_eq!(
            s.state.db.management_key(&new_serial).await.unwrap(),
            Some(secret.clone()),
            "{backend}"
        );
        // A token whose key the CA does not hold gets a clear "not found".
        let (mut other, other_der) = s.token(30).await;
        let (n2, t2) = apply(&s, &mut other, &other_der).await;
        pay(&s, &n2, &t2).await;
        s.approve(&n2, &csrf).await;
        assert_eq!(order(&s, &n2, &t2).await.management_key_algorithm, None);
        issue_certificate(&s, &mut other, &other_der, &n2, &t2).await;
        let r = s
            .order_post(
                &n2,
                &t2,
                "/management-key",
                &api::ManagementWitness {
                    witness: base64::Engine::encode(&B64, [0u8; 8]),
                },
            )
            .await;
        assert_eq!(r.status(), 404, "{backend}");
    }
}

/// The RSA-2048 CA option: created on first start, its certificates chain (our check when an
/// application comes in) and OpenSSL — which we did not write — verifies them.
#[tokio::test]
async fn an_rsa_ca_issues_certificates_openssl_accepts() {
    let s = Server::start("sqlite", |c| c.ca_algorithm = ccid::piv::Algorithm::Rsa2048).await;
    assert_eq!(
        s.state.ca.public_key().algorithm(),
        ccid::piv::Algorithm::Rsa2048
    );
    // The application's chain check runs on the RSA signature.
    let (der, renewed) = applied_and_renewed(&s).await;
    let dir = s.state.config.data_dir.clone();
    openssl_verifies(
        &dir,
        &s.state.ca.cert_der,
        &[&der, &renewed],
        "sha256WithRSAEncryption",
    );
    // Restarting loads the same RSA CA from its PKCS#8 key.
    let (again, created) =
        certrenew_server::ca::Ca::load_or_create(&dir, 0, ccid::piv::Algorithm::EccP256).unwrap();
    assert!(!created);
    assert_eq!(again.cert_der, s.state.ca.cert_der);
    assert!(again.issued(&x509_cert::Certificate::from_der(&renewed).unwrap()));
}

/// Management keys are stored wrapped under the data directory's key-encryption key: the database
/// alone does not reveal them; rows from before wrapping are wrapped at the next start; under
/// another data directory's key they fail loudly instead of reading as "no key".
#[tokio::test]
async fn management_keys_are_wrapped_at_rest() {
    for backend in backends() {
        let s = Server::start(backend, |_| {}).await;
        let db = &s.state.db;
        let raw = |serial: &'static str| {
            certrenew_server::store::sql::query(
                "SELECT key_bytes, wrapped FROM management_keys WHERE cert_serial = $1",
            )
            .bind(serial)
            .fetch_one(db.raw())
        };
        let new = ManagementKey::new(ccid::piv::Algorithm::Aes256, &[0x3C; 32]).unwrap();
        db.set_management_key("0A01", &new, 0).await.unwrap();
        let row = raw("0A01").await.unwrap();
        let stored: Vec<u8> = row.try_get("key_bytes").unwrap();
        assert_eq!(row.try_get::<i64>("wrapped").unwrap(), 1, "{backend}");
        assert_eq!(stored.len(), 40, "{backend}");
        assert!(
            !stored.windows(8).any(|w| w == [0x3C; 8]),
            "{backend}: key in clear"
        );
        assert_eq!(db.management_key("0A01").await.unwrap(), Some(new.clone()));

        // A row written before wrapping existed.
        let legacy = ManagementKey::new(ccid::piv::Algorithm::Tdes, &[0x5A; 24]).unwrap();
        certrenew_server::store::sql::query("INSERT INTO management_keys (cert_serial, algorithm, key_bytes, wrapped, created_at) VALUES ('0A02', 3, $1, 0, 0)")
            .bind(vec![0x5Au8; 24])
            .execute(db.raw())
            .await
            .unwrap();
        let (again, _) = certrenew_server::AppState::open(s.state.config.clone())
            .await
            .unwrap();
        let row = raw("0A02").await.unwrap();
        assert_eq!(row.try_get::<i64>("wrapped").unwrap(), 1, "{backend}");
        assert_ne!(row.try_get::<Vec<u8>>("key_bytes").unwrap(), vec![0x5A; 24]);
        assert_eq!(again.db.management_key("0A02").await.unwrap(), Some(legacy));
        assert_eq!(again.db.management_key("0A01").await.unwrap(), Some(new));

        // Another data directory's key-encryption key.
        let kek = s
            .state
            .config
            .data_dir
            .join(certrenew_server::keywrap::FILE);
        std::fs::write(&kek, [0x77u8; 32]).unwrap();
        let (foreign, _) = certrenew_server::AppState::open(s.state.config.clone())
            .await
            .unwrap();
        let err = foreign.db.management_key("0A01").await.unwrap_err();
        assert!(
            err.to_string().contains("does not unwrap"),
            "{backend}: {err}"
        );
    }
}

/// The data directory's signing and wrapping keys are readable by their owner only.
#[cfg(unix)]
#[tokio::test]
async fn secret_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let s = Server::start("sqlite", |_| {}).await;
    for name in ["ca.key", "sandbox-provider.key", "management-keys.kek"] {
        let mode = std::fs::metadata(s.state.config.data_dir.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
    }
    // Personal data too: the database with its WAL, and the outbox's files (full phones and
    // e-mail addresses), in a directory only the owner enters. Before: the umask's 0644/0755.
    certrenew_server::store::sql::query("INSERT INTO outbox (kind, recipient, subject, body, created_at) VALUES ('sms', '13800138000', 's', 'b', 0)")
        .execute(s.state.db.raw())
        .await
        .unwrap();
    assert_eq!(
        certrenew_server::jobs::deliver_outbox(&s.state)
            .await
            .unwrap(),
        1
    );
    let dir = &s.state.config.data_dir;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700, "data directory");
    assert_eq!(mode(&dir.join("outbox")), 0o700, "outbox directory");
    let mut files = vec![
        dir.join("test.db"),
        dir.join("test.db-wal"),
        dir.join("test.db-shm"),
    ];
    files.extend(
        std::fs::read_dir(dir.join("outbox"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    assert_eq!(files.len(), 4, "{files:?}");
    for f in files {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
}
