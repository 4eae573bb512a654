//! Prometheus metrics (OpenMetrics text), served on a listen address of their own
//! (`--metrics-listen`, off by default) so the public edge never exposes them. Counters move
//! where things happen; the orders by state and the outbox backlog are read from the database
//! when scraped.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route as routed (`/api/v1/orders/{number}`), never the raw path: bounded labels.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NoticeLabels {
    pub provider: String,
    /// paid, refund, ignored, refused_signature, refused, not_taken
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

/// Every metric the server keeps. Handles are cheap to clone (shared counters).
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub rate_limited: Family<RouteLabels, Counter>,
    pub renewals: Counter,
    pub notices: Family<NoticeLabels, Counter>,
    pub outbox_failures: Counter,
    pub ocsp_cache: Family<ResultLabels, Counter>,
    orders: Family<StatusLabels, Gauge>,
    outbox_backlog: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("certrenew");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by route",
            latency.clone(),
        );
        let rate_limited = Family::<RouteLabels, Counter>::default();
        registry.register(
            "rate_limit_refusals",
            "Requests refused by a rate limit (429), by route",
            rate_limited.clone(),
        );
        let renewals = Counter::default();
        registry.register(
            "renewals_completed",
            "Renewals installed on a token and confirmed",
            renewals.clone(),
        );
        let notices = Family::<NoticeLabels, Counter>::default();
        registry.register(
            "payment_notices",
            "Payment providers' notices, by provider and what became of them",
            notices.clone(),
        );
        let outbox_failures = Counter::default();
        registry.register(
            "outbox_delivery_failures",
            "Mail and SMS notices a relay or gateway did not take (retried later)",
            outbox_failures.clone(),
        );
        let ocsp_cache = Family::<ResultLabels, Counter>::default();
        registry.register(
            "ocsp_cache_lookups",
            "OCSP requests without a nonce, answered from the cache (hit) or signed (miss)",
            ocsp_cache.clone(),
        );
        let orders = Family::<StatusLabels, Gauge>::default();
        registry.register("orders", "Orders by state", orders.clone());
        let outbox_backlog = Gauge::default();
        registry.register(
            "outbox_backlog",
            "Notices queued and not yet delivered",
            outbox_backlog.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            rate_limited,
            renewals,
            notices,
            outbox_failures,
            ocsp_cache,
            orders,
            outbox_backlog,
        }
    }
}

impl Metrics {
    /// One request answered.
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let (method, route) = (method.to_string(), route.to_string());
        self.requests
            .get_or_create(&RequestLabels {
                method: method.clone(),
                route: route.clone(),
                status,
            })
            .inc();
        let labels = RouteLabels { method, route };
        self.latency.get_or_create(&labels).observe(seconds);
        if status == 429 {
            self.rate_limited.get_or_create(&labels).inc();
        }
    }

    pub fn notice(&self, provider: &str, result: &'static str) {
        self.notices
            .get_or_create(&NoticeLabels {
                provider: provider.to_string(),
                result,
            })
            .inc();
    }

    pub fn ocsp_cache(&self, hit: bool) {
        self.ocsp_cache
            .get_or_create(&ResultLabels {
                result: if hit { "hit" } else { "miss" },
            })
            .inc();
    }
}

/// The metrics as OpenMetrics text, the gauges read from the database first.
pub async fn render(s: &crate::State) -> Result<String, crate::store::sql::Error> {
    let m = &s.metrics;
    m.orders.clear();
    for (status, n) in s.db.orders_by_state().await? {
        m.orders.get_or_create(&StatusLabels { status }).set(n);
    }
    let backlog = s.db.outbox_backlog().await?;
    m.outbox_backlog.set(backlog);
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &m.registry)
        .map_err(|e| crate::store::sql::Error::Other(e.to_string()))?;
    Ok(out)
}

/// The metrics listener's router: `GET /metrics` only.
pub fn router(state: crate::State) -> axum::Router {
    use axum::response::IntoResponse;
    axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(
                |axum::extract::State(s): axum::extract::State<crate::State>| async move {
                    match render(&s).await {
                        Ok(text) => (
                            [(
                                axum::http::header::CONTENT_TYPE,
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                            )],
                            text,
                        )
                            .into_response(),
                        Err(e) => {
                            tracing::error!(error = %e, "metrics: the database did not answer");
                            axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response()
                        }
                    }
                },
            ),
        )
        .with_state(state)
}
