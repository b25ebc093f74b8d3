//! talko-control: the control plane (see DESIGN.md §4): accounts, contacts, groups,
//! timeline, marks, calls, photos, notifications and the live stream, over one `sqlx`
//! store (SQLite by default, PostgreSQL by URL).
//!
//! `app(state)` builds the whole HTTP API: one `router()` per resource, merged here and
//! only here, sharing one `AppState`. Every route is declared once in its resource's
//! `routes()` table, from which both the router and the OpenAPI document are generated.

pub mod accounts;
pub mod api;
pub mod batch;
pub mod cache;
pub mod calls;
pub mod client;
pub mod config;
pub mod contacts;
pub mod error;
pub mod extract;
pub mod groups;
pub mod idempotency;
pub mod invites;
pub mod live;
pub mod mailer;
pub mod marks;
pub mod media;
pub mod metrics;
pub mod notifications;
pub mod openapi;
pub mod ops;
pub mod photos;
pub mod store;
pub mod stream;
pub mod timeline;
pub mod validate;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::Router;

use crate::api::ApiRoute;
use crate::config::Config;
use crate::error::ApiError;
use crate::mailer::Mailer;
use crate::notifications::Sink;
use crate::store::Store;

/// Everything a handler may use.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Settings.
    pub config: Arc<Config>,
    /// Verification mail.
    pub mailer: Mailer,
    /// Where committed notifications go live (the hub, unless replaced).
    pub sink: Sink,
    /// The live stream: hub, replay source, presence actors.
    pub live: live::Live,
    /// Request metrics.
    pub metrics: metrics::Metrics,
    /// Access-token lookup cache.
    pub tokens: Arc<accounts::tokens::TokenCache>,
    /// Per-account rate limits.
    pub rate: Arc<contacts::RateLimiter>,
    /// Content-addressed blobs (photos, voice notes).
    pub blobs: photos::BlobStore,
    /// Set when the node drains: `/readyz` answers 503.
    pub draining: Arc<AtomicBool>,
    /// The OpenAPI document.
    pub openapi: Arc<serde_json::Value>,
    /// Membership and timeline-page caches (on for the single-node SQLite mode only).
    pub caches: Arc<cache::Caches>,
    /// Group-commit writer for text posts.
    pub texts: batch::TextWriter,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state: opens the blob store under the data directory and makes sure a
    /// contact pepper exists.
    pub async fn new(config: Config, store: Store, mailer: Mailer) -> Result<AppState, ApiError> {
        let blobs = photos::BlobStore::open(&config.data_dir)?;
        contacts::current_pepper(&store).await?;
        let live = stream::build_live(&store);
        tokio::spawn(janitor(store.clone()));
        let caches = Arc::new(cache::Caches::new(
            store.backend() == store::Backend::Sqlite,
        ));
        Ok(AppState {
            texts: batch::TextWriter::spawn(store.clone()),
            caches,
            store,
            config: Arc::new(config),
            mailer,
            sink: Arc::new(live.hub.clone()),
            live,
            metrics: metrics::Metrics::default(),
            tokens: Arc::default(),
            rate: Arc::default(),
            blobs,
            draining: Arc::default(),
            openapi: Arc::new(openapi::document(&all_routes())),
        })
    }

    /// Replaces the notification sink (tests observe publications with it).
    pub fn with_sink(mut self, sink: Sink) -> Self {
        self.sink = sink;
        self
    }
}

/// How long idempotency records are kept.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3600 * 1000;

/// Deletes what has expired (idempotency records, tokens, invitations, verification
/// codes) every ten minutes.
async fn janitor(store: Store) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        if let Err(e) = purge_expired(&store, store::now_ms()).await {
            tracing::warn!(error = %e, "purging expired rows failed");
        }
    }
}

/// Deletes rows expired at `now` (milliseconds); returns how many.
pub async fn purge_expired(store: &Store, now: i64) -> Result<u64, sqlx::Error> {
    let mut n = 0;
    for (sql, cutoff) in [
        (
            "DELETE FROM idempotency WHERE created_at < $1",
            now - IDEMPOTENCY_TTL_MS,
        ),
        ("DELETE FROM tokens WHERE expires_at < $1", now),
        ("DELETE FROM invites WHERE expires_at < $1", now),
        ("DELETE FROM verification_codes WHERE expires_at < $1", now),
    ] {
        n += sqlx::query(sql)
            .bind(cutoff)
            .execute(store.w())
            .await?
            .rows_affected();
    }
    Ok(n)
}

/// Every route of the API, in one list (the OpenAPI document is built from it).
pub fn all_routes() -> Vec<ApiRoute> {
    [
        ops::routes(),
        accounts::routes(),
        contacts::routes(),
        groups::routes(),
        invites::routes(),
        timeline::routes(),
        media::routes(),
        marks::routes(),
        calls::routes(),
        notifications::routes(),
        stream::routes(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A handler panic becomes a logged 500 problem document (never a dropped connection).
fn panic_to_problem(cause: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let what = cause
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| cause.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned());
    ApiError::internal(format_args!("handler panicked: {what}")).into_response()
}

async fn route_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// The whole HTTP API.
pub fn app(state: AppState) -> Router {
    let cfg = state.config.clone();
    Router::new()
        .merge(ops::router(&cfg))
        .merge(accounts::router(&cfg))
        .merge(contacts::router(&cfg))
        .merge(groups::router(&cfg))
        .merge(invites::router(&cfg))
        .merge(timeline::router(&cfg))
        .merge(media::router(&cfg))
        .merge(marks::router(&cfg))
        .merge(calls::router(&cfg))
        .merge(notifications::router(&cfg))
        .merge(stream::router(&cfg))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(cfg.max_json_bytes))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_to_problem,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .with_state(state)
}
