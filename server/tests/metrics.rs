#![allow(clippy::unwrap_used)]
//! Prometheus metrics on their own listener: after a scripted renewal the text parses with the
//! Python `prometheus_client` OpenMetrics parser (which we did not write), and the counters moved
//! by exactly the renewal's requests.

mod common;

use common::*;
use std::collections::BTreeMap;

/// (name, sorted labels) → value, as prometheus_client parses the text.
type Samples = BTreeMap<(String, String), f64>;

async fn scrape(url: &str) -> Samples {
    let r = reqwest::get(url).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = r.text().await.unwrap();
    let script = r#"
import sys, json
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        out.append([s.name, ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())), s.value])
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refuses the text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<(String, String, f64)> = serde_json::from_slice(&out.stdout).unwrap();
    rows.into_iter().map(|(n, l, v)| ((n, l), v)).collect()
}

fn delta(before: &Samples, after: &Samples, name: &str, labels: &str) -> f64 {
    let key = (name.to_string(), labels.to_string());
    after.get(&key).copied().unwrap_or(0.0) - before.get(&key).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn a_renewal_moves_the_counters_by_exactly_its_requests() {
    let s = Server::start("sqlite", |c| c.auto_approve = true).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(certrenew_server::edge::serve(
        listener,
        certrenew_server::metrics::router(s.state.clone()),
        certrenew_server::edge::Limits::default(),
    ));
    let (mut applet, der) = s.token(30).await;
    let before = scrape(&metrics).await;

    // The renewal, request by request.
    let (_, polls) = renew_token(&s, &mut applet, &der).await;

    let after = scrape(&metrics).await;
    let requests = "certrenew_http_requests_total";
    let expected = [
        ("POST", "/api/v1/challenges", "200", 1.0),
        ("POST", "/api/v1/applications", "201", 1.0),
        ("POST", "/api/v1/orders/{number}/payments", "200", 1.0),
        // The server asks the sandbox (a local Alipay, served here too) for the QR code.
        ("POST", "/sandbox/alipay/gateway.do", "200", 1.0),
        ("POST", "/sandbox/cashier/{id}/pay", "200", 1.0),
        ("POST", "/api/v1/payments/{provider}/notify", "200", 1.0),
        ("GET", "/api/v1/orders/{number}", "200", f64::from(polls)),
        ("POST", "/api/v1/orders/{number}/certificate", "200", 1.0),
        ("POST", "/api/v1/orders/{number}/confirm", "200", 1.0),
    ];
    let mut total = 0.0;
    for (method, route, status, n) in expected {
        let labels = format!("method={method},route={route},status={status}");
        assert_eq!(delta(&before, &after, requests, &labels), n, "{labels}");
        assert_eq!(
            delta(
                &before,
                &after,
                "certrenew_http_request_duration_seconds_count",
                &format!("method={method},route={route}")
            ),
            n,
            "{labels}: one latency observation per request"
        );
        total += n;
    }
    let all: f64 = after
        .iter()
        .filter(|((n, _), _)| n == requests)
        .map(|((n, l), _)| delta(&before, &after, n, l))
        .sum();
    let moved: Vec<_> = after
        .keys()
        .filter(|(n, l)| n == requests && delta(&before, &after, n, l) != 0.0)
        .collect();
    assert_eq!(all, total, "no other request counted: {moved:?}");
    assert_eq!(
        delta(&before, &after, "certrenew_renewals_completed_total", ""),
        1.0
    );
    assert_eq!(
        delta(
            &before,
            &after,
            "certrenew_payment_notices_total",
            "provider=alipay,result=paid"
        ),
        1.0
    );
    assert_eq!(
        after[&(
            "certrenew_orders".to_string(),
            "status=installed".to_string()
        )],
        1.0
    );
    // The renewal queued the operator's notice (the outbox has no relay here: files).
    assert!(after.contains_key(&("certrenew_outbox_backlog".to_string(), String::new())));
}
