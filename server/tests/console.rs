#![allow(clippy::unwrap_used)]
//! The console's roles and pages: a reviewer decides and sees the form (each view audited), an
//! operator revokes, an auditor reads everything masked and every change it asks is refused by
//! the server; any order is found by its operator's name, and its page shows its whole story.

mod common;

use certrenew_server::http::admin::{create_admin_with_roles, Role};
use common::*;

struct Account {
    http: reqwest::Client,
    csrf: String,
}

async fn account(s: &Server, name: &str, roles: &[Role]) -> Account {
    create_admin_with_roles(&s.state, name, "correct horse battery", roles)
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = http
        .post(s.api("/admin/login"))
        .json(&serde_json::json!({"username": name, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let info: serde_json::Value = r.json().await.unwrap();
    let want: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    assert_eq!(info["roles"], serde_json::json!(want));
    Account {
        http,
        csrf: info["csrf"].as_str().unwrap().to_string(),
    }
}

impl Account {
    async fn post(&self, s: &Server, path: &str, body: serde_json::Value) -> u16 {
        self.http
            .post(s.api(path))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, s: &Server, path: &str) -> T {
        let r = self.http.get(s.api(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.json().await.unwrap()
    }
}

#[tokio::test]
async fn roles_split_the_console_and_an_order_page_tells_its_story() {
    for backend in backends() {
        let s = Server::start(backend, |_| {}).await;
        let reviewer = account(&s, "reviewer1", &[Role::Reviewer]).await;
        let operator = account(&s, "operator1", &[Role::Operator]).await;
        let auditor = account(&s, "auditor1", &[Role::Auditor]).await;

        // A renewal, approved by the reviewer (the operator and the auditor may not).
        let (mut applet, der) = s.token(30).await;
        let (number, token) = apply(&s, &mut applet, &der).await;
        pay(&s, &number, &token).await;
        let approve = format!("/admin/orders/{number}/approve");
        assert_eq!(
            operator.post(&s, &approve, serde_json::json!({})).await,
            403
        );
        assert_eq!(auditor.post(&s, &approve, serde_json::json!({})).await, 403);
        assert_eq!(
            reviewer.post(&s, &approve, serde_json::json!({})).await,
            200
        );
        let (new_der, _) = install(&s, &mut applet, &der, &number, &token).await;

        // Found among all orders by the operator's name (masked in the list).
        let found: Vec<api::AdminOrder> = auditor
            .get(&s, "/admin/orders?status=all&q=%E5%BC%A0%E4%B8%89")
            .await;
        let o = found
            .iter()
            .find(|o| o.number == number)
            .expect("found by name");
        assert_eq!(o.status, api::OrderStatus::Installed);
        assert_eq!(o.operator_id, "110***********002X");
        let none: Vec<api::AdminOrder> = auditor
            .get(&s, "/admin/orders?status=all&q=%E7%8E%8B%E4%BA%94")
            .await;
        assert!(none.is_empty());

        // Its page: every transition in order, the payment's trade number, both certificates.
        let page: api::OrderDetail = auditor.get(&s, &format!("/admin/orders/{number}")).await;
        let steps: Vec<&str> = page.timeline.iter().map(|t| t.to.as_str()).collect();
        assert_eq!(
            steps,
            [
                "awaiting_payment",
                "paid",
                "under_review",
                "approved",
                "issued",
                "installed"
            ]
        );
        assert_eq!(page.timeline[3].actor, "reviewer1");
        assert_eq!(page.payments.len(), 1);
        assert_eq!(page.payments[0].status, "paid");
        assert!(!page.payments[0].trade_no.is_empty());
        let roles: Vec<&str> = page.certificates.iter().map(|c| c.role.as_str()).collect();
        assert_eq!(roles, ["renewed", "issued"]);
        assert!(
            page.form.is_none(),
            "an auditor sees personal data masked only"
        );
        let viewed = "SELECT COUNT(*) AS n FROM console_audit WHERE action = 'view_personal_data'";
        assert_eq!(s.count(viewed).await, 0);
        let page: api::OrderDetail = reviewer.get(&s, &format!("/admin/orders/{number}")).await;
        assert_eq!(page.form.unwrap().operator.id_number, "11010519491231002X");
        assert_eq!(s.count(viewed).await, 1, "the reviewer's view is audited");

        // The operator revokes the new certificate; the reviewer and the auditor may not.
        let serial = ccid::cert::summarize(&new_der, 0).unwrap().serial;
        let revoke = format!("/admin/certificates/{serial}/revoke");
        let why = serde_json::json!({"reason": "key_compromise"});
        assert_eq!(reviewer.post(&s, &revoke, why.clone()).await, 403);
        assert_eq!(auditor.post(&s, &revoke, why.clone()).await, 403);
        assert_eq!(operator.post(&s, &revoke, why).await, 204);
        let page: api::OrderDetail = auditor.get(&s, &format!("/admin/orders/{number}")).await;
        let issued = page
            .certificates
            .iter()
            .find(|c| c.role == "issued")
            .unwrap();
        assert!(issued.revoked_at.is_some());
        assert_eq!(issued.revocation_reason, Some(1));
        // Its own page: who revoked it, what it renewed, the order that issued it, the PEM.
        let cert: api::CertificateDetail = auditor
            .get(&s, &format!("/admin/certificates/{serial}"))
            .await;
        assert_eq!(cert.certificate.revocation_reason, Some(1));
        assert_eq!(cert.revoked_by.as_deref(), Some("operator1"));
        let old_serial = ccid::cert::summarize(&der, 0).unwrap().serial;
        assert_eq!(cert.renews.as_deref(), Some(old_serial.as_str()));
        assert_eq!(cert.orders.len(), 1);
        assert_eq!(cert.orders[0].number, number);
        assert_eq!(cert.key, "p256");
        assert_eq!(cert.fingerprint.len(), 64);
        assert!(cert.pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        let old: api::CertificateDetail = auditor
            .get(&s, &format!("/admin/certificates/{old_serial}"))
            .await;
        assert_eq!(old.renewed_by, std::slice::from_ref(&serial));
        assert_eq!(old.orders.len(), 1, "the order that renewed it");
        let r = auditor
            .http
            .get(s.api("/admin/certificates/00DEADBEEF"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);

        // Every change an auditor asks for is refused by the server, whatever the console shows.
        for path in [
            format!("/admin/orders/{number}/reject"),
            format!("/admin/certificates/{serial}/revoke"),
            "/admin/refunds/RP000000000000000000000000/retry".to_string(),
        ] {
            let body = serde_json::json!({"reason": "x"});
            assert_eq!(auditor.post(&s, &path, body).await, 403, "{path}");
        }
        // Every console change is in the console's own audit trail, by whom.
        let rows = certrenew_server::store::sql::query(
            "SELECT username, action, target FROM console_audit WHERE action NOT IN ('view_personal_data', 'login') ORDER BY id",
        )
        .fetch_all(s.state.db.raw())
        .await
        .unwrap();
        let actions: Vec<(String, String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r.try_get("username").unwrap(),
                    r.try_get("action").unwrap(),
                    r.try_get("target").unwrap(),
                )
            })
            .collect();
        assert_eq!(
            actions,
            [
                ("reviewer1".into(), "approve".into(), number.clone()),
                ("operator1".into(), "revoke".into(), serial.clone()),
            ]
        );

        // The revocation is listed; certificates are found by part of the subject.
        let revoked: Vec<api::CertificateRecord> =
            auditor.get(&s, "/admin/certificates?revoked=true").await;
        assert_eq!(revoked.len(), 1);
        assert_eq!(revoked[0].serial, serial);
        let found: Vec<api::CertificateRecord> = auditor
            .get(&s, "/admin/certificates?q=%E6%B7%B1%E5%9C%B3")
            .await;
        assert!(found.iter().any(|c| c.serial == serial) && found.len() >= 2);

        // An operator sends the order's notices again (mail and SMS); others may not.
        let resend = format!("/admin/orders/{number}/resend");
        assert_eq!(auditor.post(&s, &resend, serde_json::json!({})).await, 403);
        assert_eq!(reviewer.post(&s, &resend, serde_json::json!({})).await, 403);
        let unsent = "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL";
        let before = s.count(unsent).await;
        assert_eq!(operator.post(&s, &resend, serde_json::json!({})).await, 204);
        assert_eq!(s.count(unsent).await, before + 2);
        assert_eq!(
            s.count("SELECT COUNT(*) AS n FROM console_audit WHERE action = 'resend'")
                .await,
            1
        );
    }
}

/// The dashboard's counts and sums after a scripted set of orders, and the CSV exports as
/// Python's csv module reads them.
#[tokio::test]
async fn the_dashboard_and_exports_match_a_scripted_day() {
    for backend in backends() {
        dashboard_and_exports(backend).await;
    }
}

async fn dashboard_and_exports(backend: &str) {
    let s = Server::start(backend, |c| c.auto_approve = true).await;
    let auditor = account(&s, "auditor3", &[Role::Auditor]).await;
    for _ in 0..3 {
        renew_auto_approved(&s).await;
    }
    // One applied and never paid; one paid, then stopped by its certificate's revocation
    // (refunded: not revenue).
    let (mut a, c) = s.token(20).await;
    apply(&s, &mut a, &c).await;
    let (mut b, d) = s.token(20).await;
    let (n, t) = apply(&s, &mut b, &d).await;
    pay(&s, &n, &t).await;
    let csrf = s.admin_login().await;
    assert_eq!(revoke_certificate(&s, &csrf, &d, "superseded").await, 204);
    settle_refunds(&s).await;
    let fee = order(&s, &n, &t).await.fee_fen;

    let dash: api::Dashboard = auditor.get(&s, "/admin/dashboard").await;
    assert_eq!(dash.renewals_per_day.len(), 30);
    let today = dash.renewals_per_day.last().unwrap();
    assert_eq!(today.value, 3);
    assert_eq!(
        dash.renewals_per_day.iter().map(|d| d.value).sum::<i64>(),
        3
    );
    assert_eq!(dash.revenue_per_day.last().unwrap().value, 3 * fee);
    assert_eq!(dash.revenue_per_month.len(), 12);
    assert_eq!(dash.revenue_per_month.last().unwrap().value, 3 * fee);
    assert_eq!(
        &dash.revenue_per_month.last().unwrap().date,
        &today.date[..7]
    );
    let states: std::collections::BTreeMap<String, i64> =
        dash.orders_by_state.into_iter().collect();
    assert_eq!(
        states,
        [("awaiting_payment", 1), ("installed", 3), ("refunded", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    );
    // The unpaid order's 20-day certificate: not the revoked one, the three renewed ones, nor
    // the new ones (a year out).
    assert_eq!(dash.expiring, [1, 1, 1]);

    let rows = |csv: String| -> Vec<Vec<String>> {
        let script = "import csv, json, sys\nprint(json.dumps(list(csv.reader(sys.stdin.read().lstrip('\\ufeff').splitlines()))))";
        let mut child = std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(csv.as_bytes())
            .unwrap();
        serde_json::from_slice(&child.wait_with_output().unwrap().stdout).unwrap()
    };
    let get_csv = |file: &'static str| {
        let (http, url) = (
            auditor.http.clone(),
            s.api(&format!("/admin/export/{file}")),
        );
        async move {
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert!(r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv"));
            r.text().await.unwrap()
        }
    };
    let paid = rows(get_csv("paid-orders.csv").await);
    assert_eq!(paid[0][0], "order");
    assert_eq!(paid.len(), 1 + 4, "three kept, one refunded");
    assert_eq!(paid.iter().filter(|r| r[7] == "refunded").count(), 1);
    let invoices = rows(get_csv("invoices.csv").await);
    assert_eq!(invoices.len(), 1 + 3);
    assert_eq!(invoices[1][4], "91350100M000100Y43");
    assert_eq!(
        s.count("SELECT COUNT(*) AS n FROM console_audit WHERE action = 'export'")
            .await,
        2
    );
}

/// Signing in and out is in the console's trail too, and so is a wrong password for a real
/// account (an unknown name is not: it would let anyone write rows there).
#[tokio::test]
async fn logins_logouts_and_refused_passwords_are_audited() {
    let s = Server::start("sqlite", |_| {}).await;
    let who = account(&s, "auditor1", &[Role::Auditor]).await;
    for (name, password) in [("auditor1", "wrong"), ("nobody", "wrong")] {
        let r = s
            .http
            .post(s.api("/admin/login"))
            .json(&serde_json::json!({"username": name, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    assert_eq!(
        who.post(&s, "/admin/logout", serde_json::json!({})).await,
        200
    );
    let rows = certrenew_server::store::sql::query(
        "SELECT username, action FROM console_audit ORDER BY id",
    )
    .fetch_all(s.state.db.raw())
    .await
    .unwrap();
    let got: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.try_get("username").unwrap(), r.try_get("action").unwrap()))
        .collect();
    let want = [
        ("auditor1", "login"),
        ("auditor1", "login_refused"),
        ("auditor1", "logout"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(u, a)| (u.to_string(), a.to_string()))
        .collect();
    assert_eq!(got, want);
}
