//! Notifications: the stored per-user inbox (invitations, mentions, new items, calls
//! started — each with its subject; nothing rings), read/unread state, and the hand-off of
//! each new notification to the live stream after its row is committed.
//!
//! Owns: the `notifications` table and the `LiveSink` seam to the live stream. Must never:
//! publish a notification before its row is committed (a reconnecting client resumes from
//! the table, so the table is the truth), or show one user another user's inbox.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::api::{self, no_content, ok, ApiRoute};
use crate::error::{ApiError, ApiResult};
use crate::extract::{decode_cursor, page_json, ApiJson, ApiPath, ApiQuery, Auth, PageQuery};
use crate::store::{new_id, now_ms, Store};
use crate::AppState;

/// Where committed notifications go live (the WebSocket hub).
pub trait LiveSink: Send + Sync + 'static {
    /// Delivers `notification` (the same JSON the inbox lists) to every connected device
    /// of `account`. Must not block.
    fn publish(&self, account: Uuid, notification: Value);
}

/// A sink that drops everything (no live stream attached).
#[derive(Debug, Default)]
pub struct NoLive;

impl LiveSink for NoLive {
    fn publish(&self, _account: Uuid, _notification: Value) {}
}

/// Shared handle to the sink.
pub type Sink = Arc<dyn LiveSink>;

/// A notification to write.
#[derive(Debug, Clone)]
pub struct NewNotification {
    /// Recipient.
    pub account: String,
    /// `invitation`, `mention`, `new_item`, `call_started`.
    pub kind: &'static str,
    /// The group it concerns.
    pub group: Option<String>,
    /// The item or invitation it concerns.
    pub item: Option<String>,
    /// Who caused it.
    pub actor: Option<String>,
    /// A short subject (the invitation's or call's subject, a text preview).
    pub subject: Option<String>,
}

/// A written notification, ready to publish.
#[derive(Debug, Clone)]
pub struct Written {
    account: String,
    json: Value,
}

/// Inserts notifications inside the caller's transaction; publish the result after commit.
pub async fn insert(conn: &mut AnyConnection, list: &[NewNotification]) -> ApiResult<Vec<Written>> {
    let now = now_ms();
    let rows: Vec<(Row, &str)> = list
        .iter()
        .map(|n| {
            let row: Row = (
                new_id(),
                n.kind.to_owned(),
                n.group.clone(),
                n.item.clone(),
                n.actor.clone(),
                n.subject.clone(),
                now,
                None,
            );
            (row, n.account.as_str())
        })
        .collect();
    // Multi-row inserts: one round trip per 100 notifications.
    for chunk in rows.chunks(100) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = i * 8;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO notifications (id, account_id, kind, group_id, item_id, actor_id, subject, created_at) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (r, account) in chunk {
            q = q
                .bind(r.0.as_str())
                .bind(*account)
                .bind(r.1.as_str())
                .bind(r.2.as_deref())
                .bind(r.3.as_deref())
                .bind(r.4.as_deref())
                .bind(r.5.as_deref())
                .bind(r.6);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(rows
        .iter()
        .map(|(r, account)| Written {
            account: (*account).to_owned(),
            json: row_json(r),
        })
        .collect())
}

/// Hands committed notifications to the live stream.
pub fn publish(st: &AppState, written: Vec<Written>) {
    for w in written {
        if let Ok(account) = Uuid::parse_str(&w.account) {
            st.sink.publish(account, w.json);
        }
    }
}

type Row = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
);

fn row_json(r: &Row) -> Value {
    json!({"notification_id": r.0, "kind": r.1, "group_id": r.2, "item_id": r.3, "actor_id": r.4,
        "subject": r.5, "created_at": r.6, "read": r.7.is_some(), "cursor": crate::extract::encode_cursor(&r.0)})
}

/// Notifications of `account` after `cursor` (exclusive, oldest first), at most `limit` —
/// what a reconnecting live stream replays before going live.
pub async fn after(
    store: &Store,
    account: Uuid,
    cursor: Option<&str>,
    limit: u32,
) -> ApiResult<Vec<Value>> {
    let after = match cursor {
        Some(c) if !c.is_empty() => decode_cursor(c)?,
        _ => String::new(),
    };
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, kind, group_id, item_id, actor_id, subject, created_at, read_at FROM notifications \
         WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(account.to_string())
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(store.r())
    .await?;
    Ok(rows.iter().map(row_json).collect())
}

/// The routes of this resource.
pub fn routes() -> Vec<ApiRoute> {
    let tag = "notifications";
    vec![
        api::get("/v1/notifications", list)
            .doc(tag, "The caller's inbox, newest first")
            .paginated()
            .query(&[("unread", "true: only unread notifications")]),
        api::post("/v1/notifications/{notification_id}/read", mark_read)
            .doc(tag, "Mark one notification read")
            .status(StatusCode::NO_CONTENT),
        api::post("/v1/notifications/read", mark_all_read)
            .doc(tag, "Mark every notification up to a cursor (or all) read")
            .json(json!({"type": "object", "properties": {"up_to": {"type": "string", "description": "a notification cursor"}}})),
    ]
}

/// Router for this resource.
pub fn router(cfg: &crate::config::Config) -> axum::Router<AppState> {
    api::router(routes(), cfg)
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    unread: Option<bool>,
}

async fn list(
    State(st): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .page()?;
    let unread_only = i64::from(q.unread.unwrap_or(false));
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, kind, group_id, item_id, actor_id, subject, created_at, read_at FROM notifications \
         WHERE account_id = $1 AND ($2 = '' OR id < $2) AND ($3 = 0 OR read_at IS NULL) ORDER BY id DESC LIMIT $4",
    )
    .bind(&auth.account)
    .bind(page.after.clone().unwrap_or_default())
    .bind(unread_only)
    .bind(i64::from(page.limit) + 1)
    .fetch_all(st.store.r())
    .await?;
    let unread: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM notifications WHERE account_id = $1 AND read_at IS NULL",
    )
    .bind(&auth.account)
    .fetch_one(st.store.r())
    .await?;
    let mut body = page_json(rows, page.limit, |r| r.0.clone(), row_json);
    if let Some(o) = body.as_object_mut() {
        o.insert("unread_count".into(), json!(unread.0));
    }
    Ok(ok(body))
}

async fn mark_read(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let res = sqlx::query(
        "UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND account_id = $3",
    )
    .bind(now_ms())
    .bind(id.to_string())
    .bind(&auth.account)
    .execute(st.store.w())
    .await?;
    if res.rows_affected() == 0 {
        return Err(ApiError::not_found());
    }
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadAllBody {
    up_to: Option<String>,
}

async fn mark_all_read(
    State(st): State<AppState>,
    auth: Auth,
    ApiJson(body, _): ApiJson<ReadAllBody>,
) -> ApiResult<Response> {
    let up_to = match &body.up_to {
        Some(c) => decode_cursor(c)?,
        None => String::new(),
    };
    let res = sqlx::query(
        "UPDATE notifications SET read_at = $1 WHERE account_id = $2 AND read_at IS NULL AND ($3 = '' OR id <= $3)",
    )
    .bind(now_ms())
    .bind(&auth.account)
    .bind(up_to)
    .execute(st.store.w())
    .await?;
    Ok(ok(json!({"marked_read": res.rows_affected()})))
}
