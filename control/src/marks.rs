//! Marks: flag, #tag and bookmark-with-note, on a timeline item or at an offset within a
//! call recording; listing a group's marks; tag search goes through the timeline's `tag`
//! filter, which also matches tag marks.
//!
//! Owns: the `marks` table. Must never: attach a mark to an item of another group, or let
//! anyone but its author delete a mark.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::api::{self, no_content, ok, ApiRoute};
use crate::cache::Touch;
use crate::error::{ApiError, ApiResult};
use crate::extract::{page_json, ApiJson, ApiPath, ApiQuery, Auth, PageQuery};
use crate::groups::require_member;
use crate::idempotency::{Idem, Outcome};
use crate::store::{new_id, now_ms};
use crate::timeline::fetch_item;
use crate::{validate, AppState};

/// The routes of this resource.
pub fn routes() -> Vec<ApiRoute> {
    let tag = "marks";
    vec![
        api::post("/v1/groups/{group_id}/marks", create_mark)
            .doc(
                tag,
                "Flag, #tag or bookmark (with a note) an item, or a moment of a call (offset_ms)",
            )
            .creates()
            .json(
                json!({"type": "object", "required": ["item_id", "kind"], "properties": {
                "item_id": {"type": "string", "format": "uuid"},
                "kind": {"enum": ["flag", "tag", "bookmark"]},
                "tag": {"type": "string", "maxLength": 64},
                "note": {"type": "string", "maxLength": 1000},
                "offset_ms": {"type": "integer", "minimum": 0}}}),
            ),
        api::get("/v1/groups/{group_id}/marks", list_marks)
            .doc(tag, "The group's marks, newest first")
            .paginated()
            .query(&[
                ("tag", "only tag marks with this tag"),
                ("item_id", "only marks on this item"),
            ]),
        api::delete("/v1/groups/{group_id}/marks/{mark_id}", delete_mark)
            .doc(tag, "Delete your own mark")
            .status(StatusCode::NO_CONTENT),
    ]
}

/// Router for this resource.
pub fn router(cfg: &crate::config::Config) -> axum::Router<AppState> {
    api::router(routes(), cfg)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkBody {
    item_id: Uuid,
    kind: String,
    tag: Option<String>,
    note: Option<String>,
    offset_ms: Option<i64>,
}

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
);

fn row_json(r: &Row) -> Value {
    json!({"mark_id": r.0, "item_id": r.1, "author_id": r.2, "kind": r.3, "tag": r.4, "note": r.5,
        "offset_ms": r.6, "created_at": r.7})
}

async fn create_mark(
    State(st): State<AppState>,
    auth: Auth,
    idem: Idem,
    ApiPath(group): ApiPath<Uuid>,
    ApiJson(body, fp): ApiJson<MarkBody>,
) -> ApiResult<Response> {
    require_member(&st, &group, &auth.account).await?;
    let gid = group.to_string();
    // An item of another group is "not found" here, exactly like a missing one.
    let item = fetch_item(&st, &gid, &body.item_id.to_string()).await?;
    let (tag, note) = match body.kind.as_str() {
        "flag" => (None, None),
        "tag" => {
            let t = body
                .tag
                .as_deref()
                .ok_or_else(|| ApiError::invalid("invalid_tag", "a tag mark needs a tag"))?;
            (Some(validate::tag(t)?), None)
        }
        "bookmark" => {
            let note = body.note.as_deref().map(validate::text).transpose()?;
            if note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
                return Err(ApiError::invalid(
                    "invalid_field",
                    "note must have at most 1000 characters",
                ));
            }
            (None, note)
        }
        _ => {
            return Err(ApiError::invalid(
                "invalid_kind",
                "kind must be flag, tag or bookmark",
            ))
        }
    };
    if let Some(off) = body.offset_ms {
        if item.kind() != "call" {
            return Err(ApiError::invalid(
                "offset_needs_call",
                "offset_ms applies only to call items",
            ));
        }
        if !(0..=7 * 24 * 3600 * 1000).contains(&off) {
            return Err(ApiError::invalid(
                "invalid_field",
                "offset_ms is out of range",
            ));
        }
    }
    let id = new_id();
    let now = now_ms();
    let mut tx = st.store.w().begin().await?;
    sqlx::query(
        "INSERT INTO marks (id, group_id, item_id, author_id, kind, tag, note, offset_ms, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&gid)
    .bind(item.id())
    .bind(&auth.account)
    .bind(&body.kind)
    .bind(&tag)
    .bind(&note)
    .bind(body.offset_ms)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let out = row_json(&(
        id,
        item.id().to_owned(),
        auth.account.clone(),
        body.kind.clone(),
        tag,
        note,
        body.offset_ms,
        now,
    ));
    idem.commit(
        &st,
        tx,
        &auth.account,
        &fp,
        Outcome {
            body: out,
            notify: Vec::new(),
            touch: Touch::Items(&gid),
        },
    )
    .await
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    tag: Option<String>,
    item_id: Option<Uuid>,
}

async fn list_marks(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath(group): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Response> {
    require_member(&st, &group, &auth.account).await?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .page()?;
    let tag = q
        .tag
        .as_deref()
        .map(validate::tag)
        .transpose()?
        .unwrap_or_default();
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, item_id, author_id, kind, tag, note, offset_ms, created_at FROM marks \
         WHERE group_id = $1 AND ($2 = '' OR id < $2) AND ($3 = '' OR tag = $3) AND ($4 = '' OR item_id = $4) \
         ORDER BY id DESC LIMIT $5",
    )
    .bind(group.to_string())
    .bind(page.after.unwrap_or_default())
    .bind(tag)
    .bind(q.item_id.map(|i| i.to_string()).unwrap_or_default())
    .bind(i64::from(page.limit) + 1)
    .fetch_all(st.store.r())
    .await?;
    Ok(ok(page_json(rows, page.limit, |r| r.0.clone(), row_json)))
}

async fn delete_mark(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath((group, mark)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    require_member(&st, &group, &auth.account).await?;
    let author: Option<(String,)> =
        sqlx::query_as("SELECT author_id FROM marks WHERE id = $1 AND group_id = $2")
            .bind(mark.to_string())
            .bind(group.to_string())
            .fetch_optional(st.store.r())
            .await?;
    let (author,) = author.ok_or_else(ApiError::not_found)?;
    if author != auth.account {
        return Err(ApiError::forbidden(
            "not_author",
            "only the author can delete a mark",
        ));
    }
    sqlx::query("DELETE FROM marks WHERE id = $1")
        .bind(mark.to_string())
        .execute(st.store.w())
        .await?;
    st.caches.touch_items(&group.to_string());
    Ok(no_content())
}
