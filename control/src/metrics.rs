//! Prometheus metrics: request counts and latency histograms by method, route template and
//! status, kept in a small registry of atomics and rendered in the text exposition format.
//!
//! Owns: the registry and the middleware that feeds it. Must never: label by raw path (ids
//! would explode cardinality) — only by the matched route template.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Histogram bucket upper bounds in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Series {
    count: AtomicU64,
    sum_micros: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
}

type Key = (String, String, u16);

/// The registry: one series per (method, route, status).
#[derive(Default, Clone)]
pub struct Metrics {
    series: Arc<RwLock<HashMap<Key, Arc<Series>>>>,
    in_flight: Arc<AtomicU64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        let series = {
            let found = self.series.read().ok().and_then(|m| {
                m.get(&(method.to_owned(), route.to_owned(), status))
                    .cloned()
            });
            match found {
                Some(s) => s,
                None => match self.series.write() {
                    Ok(mut m) => m
                        .entry((method.to_owned(), route.to_owned(), status))
                        .or_default()
                        .clone(),
                    Err(_) => return,
                },
            }
        };
        series.count.fetch_add(1, Ordering::Relaxed);
        series
            .sum_micros
            .fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                if let Some(b) = series.buckets.get(i) {
                    b.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Requests currently being served.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP talko_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE talko_http_requests_total counter\n");
        let snapshot: Vec<(Key, Arc<Series>)> = match self.series.read() {
            Ok(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(_) => Vec::new(),
        };
        let mut snapshot = snapshot;
        snapshot.sort_by(|a, b| a.0.cmp(&b.0));
        for ((method, route, status), s) in &snapshot {
            let _ = writeln!(
                out,
                "talko_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                s.count.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP talko_http_request_duration_seconds HTTP request latency by method, route and status.\n",
        );
        out.push_str("# TYPE talko_http_request_duration_seconds histogram\n");
        for ((method, route, status), s) in &snapshot {
            let labels = format!(
                "method=\"{method}\",route=\"{}\",status=\"{status}\"",
                escape(route)
            );
            for (i, le) in BUCKETS.iter().enumerate() {
                let n = s.buckets.get(i).map_or(0, |b| b.load(Ordering::Relaxed));
                let _ = writeln!(
                    out,
                    "talko_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
                );
            }
            let count = s.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "talko_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
            );
            let sum = s.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "talko_http_request_duration_seconds_sum{{{labels}}} {sum}"
            );
            let _ = writeln!(
                out,
                "talko_http_request_duration_seconds_count{{{labels}}} {count}"
            );
        }
        out.push_str("# HELP talko_http_requests_in_flight Requests being served.\n");
        out.push_str("# TYPE talko_http_requests_in_flight gauge\n");
        let _ = writeln!(out, "talko_http_requests_in_flight {}", self.in_flight());
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: times every request and records it under its route template.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let resp = next.run(req).await;
    metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
    metrics.observe(
        &method,
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_counts_requests_per_route_and_status() {
        let m = Metrics::default();
        m.observe("GET", "/v1/groups/{id}", 200, 0.002);
        m.observe("GET", "/v1/groups/{id}", 200, 0.02);
        m.observe("GET", "/v1/groups/{id}", 404, 0.001);
        let text = m.render();
        assert!(text.contains(
            "talko_http_requests_total{method=\"GET\",route=\"/v1/groups/{id}\",status=\"200\"} 2"
        ));
        assert!(text.contains("status=\"404\"} 1"));
        assert!(text.contains(
            "talko_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/groups/{id}\",status=\"200\",le=\"0.005\"} 1"
        ));
    }
}
