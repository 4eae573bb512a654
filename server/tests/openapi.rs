//! The served OpenAPI document lists exactly the routes the router has.
#![allow(clippy::unwrap_used)]

mod common;

use certrenew_server::http::ROUTES;
use std::collections::BTreeSet;

#[tokio::test]
async fn openapi_matches_the_routes() {
    let s = Server::start("sqlite", |_| {}).await;
    let doc: serde_json::Value = s
        .http
        .get(s.api("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str()))
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routed);
    // Each listed route is really routed: not 405, and not the router's empty 404.
    for (method, path) in ROUTES {
        let url = s.api(&path.replace("{number}", "01202601010000001"));
        let req = if *method == "GET" {
            s.http.get(url)
        } else {
            s.http
                .post(url)
                .header("content-type", "application/json")
                .body("{}")
        };
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path}");
        assert!(
            !(status == 404 && body.is_empty()),
            "{method} {path} is not routed"
        );
    }
    let r = s.http.get(s.api("/no/such/route")).send().await.unwrap();
    assert!(
        r.status() == 404 && r.text().await.unwrap().is_empty(),
        "the check above can tell unrouted paths"
    );
}

use common::Server;
