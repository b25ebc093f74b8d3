//! HTTP side of the live stream and presence: `GET /v1/live` (the WebSocket, after bearer
//! authentication), heartbeats and availability over plain HTTP, and a group's presence
//! board. Also the store-backed seams the live module needs: the notification replay
//! source, the presence audience (group peers) and the hub as the notification sink.
//!
//! Owns: these routes and adapters. The sessions, hub and presence actors are
//! `crate::live`. Must never: hand a socket to the live module before authenticating it,
//! or show presence of accounts outside the caller's groups.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::api::{self, no_content, ok, ApiRoute};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::groups::require_member;
use crate::live::{
    self, Audience, Availability, BoxFuture, Hub, LiveMessage, LiveQuery, NotificationSource,
    SourceError,
};
use crate::notifications::LiveSink;
use crate::store::Store;
use crate::AppState;

impl LiveSink for Hub {
    fn publish(&self, account: Uuid, notification: Value) {
        let cursor = notification
            .get("cursor")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        Hub::publish(
            self,
            account,
            &LiveMessage::notification(&cursor, notification),
        );
    }
}

/// Replays the stored inbox to a reconnecting session.
#[derive(Debug, Clone)]
pub struct StoreSource {
    /// The store.
    pub store: Store,
}

impl NotificationSource for StoreSource {
    fn since<'a>(
        &'a self,
        account: Uuid,
        cursor: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<(String, Value)>, SourceError>> {
        Box::pin(async move {
            if !cursor.is_empty() && crate::extract::decode_cursor(cursor).is_err() {
                return Err(SourceError::InvalidCursor);
            }
            let rows = crate::notifications::after(&self.store, account, Some(cursor), limit)
                .await
                .map_err(|_| SourceError::Unavailable)?;
            Ok(rows
                .into_iter()
                .map(|v| {
                    (
                        v.get("cursor")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                        v,
                    )
                })
                .collect())
        })
    }
}

/// Everyone who shares a group with an account watches its presence.
#[derive(Debug, Clone)]
pub struct GroupPeers {
    /// The store.
    pub store: Store,
}

impl Audience for GroupPeers {
    fn watchers(&self, account: Uuid) -> BoxFuture<'_, Vec<Uuid>> {
        Box::pin(async move {
            let rows: Result<Vec<(String,)>, sqlx::Error> = sqlx::query_as(
                "SELECT DISTINCT m2.account_id FROM members m1 JOIN members m2 ON m2.group_id = m1.group_id \
                 WHERE m1.account_id = $1 AND m2.account_id <> $1",
            )
            .bind(account.to_string())
            .fetch_all(self.store.r())
            .await;
            match rows {
                Ok(rows) => rows
                    .iter()
                    .filter_map(|(a,)| Uuid::parse_str(a).ok())
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "presence audience lookup failed");
                    Vec::new()
                }
            }
        })
    }
}

/// Builds the live bundle (hub, replay source, presence actors) on `store`.
pub fn build_live(store: &Store) -> live::Live {
    let hub = Hub::new(live::HubConfig::default());
    let presence = live::Presence::spawn(
        live::PresenceConfig::default(),
        hub.clone(),
        Arc::new(GroupPeers {
            store: store.clone(),
        }),
    );
    live::Live {
        hub,
        source: Arc::new(StoreSource {
            store: store.clone(),
        }),
        presence,
        config: live::LiveConfig::default(),
    }
}

/// The routes of this resource.
pub fn routes() -> Vec<ApiRoute> {
    let tag = "live";
    vec![
        api::get("/v1/live", live_socket)
            .doc(tag, "WebSocket: notifications and presence transitions; ?cursor= resumes after a notification")
            .query(&[("cursor", "the newest notification cursor the client has")])
            .status(StatusCode::SWITCHING_PROTOCOLS),
        api::post("/v1/presence/heartbeat", heartbeat)
            .doc(tag, "A sign of life from a device without a live connection")
            .status(StatusCode::NO_CONTENT),
        api::put("/v1/presence/availability", set_availability)
            .doc(tag, "Choose available, busy or away")
            .status(StatusCode::NO_CONTENT)
            .json(json!({"type": "object", "required": ["value"], "properties": {"value": {"enum": ["available", "busy", "away"]}}})),
        api::get("/v1/groups/{group_id}/presence", group_presence).doc(tag, "Presence of every member of a group"),
    ]
}

/// Router for this resource.
pub fn router(cfg: &crate::config::Config) -> axum::Router<AppState> {
    api::router(routes(), cfg)
}

fn ids(auth: &Auth) -> ApiResult<(Uuid, Uuid)> {
    let a = Uuid::parse_str(&auth.account).map_err(ApiError::internal)?;
    let d = Uuid::parse_str(&auth.device).map_err(ApiError::internal)?;
    Ok((a, d))
}

async fn live_socket(
    State(st): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<LiveQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    if let Some(c) = q.cursor.as_deref().filter(|c| !c.is_empty()) {
        crate::extract::decode_cursor(c)?;
    }
    let ws = ws.map_err(|_| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
            "this endpoint speaks WebSocket only",
        )
    })?;
    let (account, device) = ids(&auth)?;
    Ok(live::upgrade(
        ws,
        st.live.clone(),
        account,
        device,
        q.cursor,
    ))
}

async fn heartbeat(State(st): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let (account, device) = ids(&auth)?;
    st.live.presence.heartbeat(account, device).await;
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AvailabilityBody {
    value: Availability,
}

async fn set_availability(
    State(st): State<AppState>,
    auth: Auth,
    ApiJson(body, _): ApiJson<AvailabilityBody>,
) -> ApiResult<Response> {
    let (account, _) = ids(&auth)?;
    st.live.presence.set_availability(account, body.value).await;
    Ok(no_content())
}

async fn group_presence(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath(group): ApiPath<Uuid>,
) -> ApiResult<Response> {
    require_member(&st, &group, &auth.account).await?;
    let members = crate::groups::member_ids(&st, &group.to_string()).await?;
    let mut items = Vec::with_capacity(members.len());
    for m in members {
        let Ok(id) = Uuid::parse_str(&m) else {
            continue;
        };
        let state = st.live.presence.get(id).await;
        items.push(json!({"account_id": m, "presence": state}));
    }
    Ok(ok(json!({"items": items})))
}
