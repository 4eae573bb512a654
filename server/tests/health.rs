//! `/healthz` and `/readyz` (issue 18): readiness names what is wrong, and is refused (503) while
//! the database lags this build's migrations.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[tokio::test]
async fn readiness_names_each_part() {
    for backend in backends() {
        let s = Server::start(backend, |_| {}).await;
        let r = s
            .http
            .get(format!("{}/healthz", s.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.text().await.unwrap(), "ok\n");
        let ready = || async {
            let r = s
                .http
                .get(format!("{}/readyz", s.url))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        };
        let (status, body) = ready().await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["ready"], true);
        assert_eq!(body["database"], "ok");
        assert_eq!(body["migrations"], "ok");
        assert_eq!(body["ca_key"], "ok");
        // A database restored from before the newest migration, under the running server.
        let newest: String = certrenew_server::store::sql::query(
            "SELECT name FROM schema_migrations ORDER BY name DESC LIMIT 1",
        )
        .fetch_one(s.state.db.raw())
        .await
        .unwrap()
        .try_get("name")
        .unwrap();
        certrenew_server::store::sql::query("DELETE FROM schema_migrations WHERE name = $1")
            .bind(&newest)
            .execute(s.state.db.raw())
            .await
            .unwrap();
        let (status, body) = ready().await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["ready"], false);
        assert_eq!(body["migrations"], "1 pending");
        assert_eq!(body["ca_key"], "ok");
    }
}
