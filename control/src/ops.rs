//! Operator endpoints: `/healthz` (the process is up), `/readyz` (the database answers and
//! the node is not draining), `/metrics` (Prometheus text) and `/v1/openapi.json`.
//!
//! Owns: these routes. Must never: do work on `/healthz` beyond answering.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::api::{self, ApiRoute};
use crate::error::ApiError;
use crate::AppState;

/// The routes of this resource.
pub fn routes() -> Vec<ApiRoute> {
    let tag = "operations";
    vec![
        api::get("/healthz", healthz).doc(tag, "Liveness").public(),
        api::get("/readyz", readyz)
            .doc(tag, "Readiness: database reachable and not draining")
            .public(),
        api::get("/metrics", metrics)
            .doc(tag, "Prometheus metrics")
            .public(),
        api::get("/v1/openapi.json", openapi)
            .doc(tag, "This document")
            .public(),
    ]
}

/// Router for this resource.
pub fn router(cfg: &crate::config::Config) -> axum::Router<AppState> {
    api::router(routes(), cfg)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(st): State<AppState>) -> Response {
    if st.draining.load(Ordering::Relaxed) {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "the node is draining",
        )
        .into_response();
    }
    match st.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the database is unreachable",
            )
            .into_response()
        }
    }
}

async fn metrics(State(st): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response()
}

async fn openapi(State(st): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        st.openapi.to_string(),
    )
        .into_response()
}
