//! The timeline of a group: texts, photos, voice notes and call items, newest first,
//! paginated and filterable by tag and kind; authors edit and delete their own items.
//!
//! Owns: the `items` and `item_tags` tables and the fan-out of new-item and mention
//! notifications. Must never: show an item to a non-member (every route passes
//! `groups::require_member` first and every query is scoped by group id), or let anyone
//! but the author change an item.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::AnyConnection;
use uuid::Uuid;

use crate::api::{self, no_content, ok, ApiRoute};
use crate::cache::Touch;
use crate::error::{ApiError, ApiResult};
use crate::extract::{page_json, ApiJson, ApiPath, ApiQuery, Auth, PageQuery};
use crate::groups::require_member;
use crate::idempotency::Idem;
use crate::notifications::{self, NewNotification, Written};
use crate::store::{new_id, now_ms};
use crate::{validate, AppState};

/// The columns every item query selects, in `ItemRow` order.
pub const ITEM_COLUMNS: &str =
    "i.id, i.group_id, i.author_id, i.kind, i.body, i.photo_id, i.duration_ms, \
     i.at_offset_ms, i.call_item_id, i.tags, i.created_at, i.edited_at, p.width, p.height";

/// The FROM clause matching `ITEM_COLUMNS`.
pub const ITEM_FROM: &str = "items i LEFT JOIN photos p ON p.id = i.photo_id";

/// One timeline row.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ItemRow {
    id: String,
    group_id: String,
    author_id: String,
    kind: String,
    body: Option<String>,
    photo_id: Option<String>,
    duration_ms: Option<i64>,
    at_offset_ms: Option<i64>,
    call_item_id: Option<String>,
    tags: String,
    created_at: i64,
    edited_at: Option<i64>,
    width: Option<i64>,
    height: Option<i64>,
}

impl ItemRow {
    /// A new text item as it will be stored.
    pub fn text(
        id: String,
        group: &str,
        author: &str,
        text: String,
        tags: &[String],
        now: i64,
    ) -> ItemRow {
        ItemRow {
            id,
            group_id: group.to_owned(),
            author_id: author.to_owned(),
            kind: "text".to_owned(),
            body: Some(text),
            photo_id: None,
            duration_ms: None,
            at_offset_ms: None,
            call_item_id: None,
            tags: tags.join(" "),
            created_at: now,
            edited_at: None,
            width: None,
            height: None,
        }
    }

    /// The item's id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The item's kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }
    /// The item as API JSON.
    pub fn to_json(&self) -> Value {
        let tags: Vec<&str> = self.tags.split(' ').filter(|t| !t.is_empty()).collect();
        let mut v = json!({"item_id": self.id, "group_id": self.group_id, "author_id": self.author_id,
            "kind": self.kind, "tags": tags, "created_at": self.created_at, "edited_at": self.edited_at});
        let Some(o) = v.as_object_mut() else { return v };
        match self.kind.as_str() {
            "text" => {
                o.insert("text".into(), json!(self.body));
            }
            "photo" => {
                o.insert("caption".into(), json!(self.body));
                o.insert(
                    "photo".into(),
                    json!({"photo_id": self.photo_id, "width": self.width, "height": self.height,
                        "url": self.photo_id.as_ref().map(|p| format!("/v1/photos/{p}"))}),
                );
                o.insert("at_offset_ms".into(), json!(self.at_offset_ms));
                o.insert("call_item_id".into(), json!(self.call_item_id));
            }
            "voice" => {
                o.insert(
                    "voice".into(),
                    json!({"duration_ms": self.duration_ms,
                        "url": format!("/v1/groups/{}/items/{}/voice", self.group_id, self.id)}),
                );
            }
            "call" => {
                o.insert("subject".into(), json!(self.body));
            }
            _ => {}
        }
        v
    }
}

/// A new item to insert.
#[derive(Debug, Default)]
pub struct NewItem<'a> {
    /// Group.
    pub group: &'a str,
    /// Author.
    pub author: &'a str,
    /// `text`, `photo`, `voice`, `call`.
    pub kind: &'static str,
    /// Text, caption or call subject.
    pub body: Option<String>,
    /// Photo id (photo items).
    pub photo: Option<String>,
    /// Blob hash (voice notes).
    pub blob: Option<String>,
    /// Duration (voice notes).
    pub duration_ms: Option<i64>,
    /// Offset into a call recording (Tap to Show).
    pub at_offset_ms: Option<i64>,
    /// The call a photo was shown in.
    pub call_item: Option<String>,
    /// The group's members (from `groups::members`), to notify.
    pub members: Vec<String>,
}

/// Inserts an item with its tags inside `conn`'s transaction and writes the notifications
/// (mentions, new item; `call_started` for calls). Returns the item JSON and the written
/// notifications to publish after commit.
pub async fn insert_item(
    conn: &mut AnyConnection,
    item: NewItem<'_>,
) -> ApiResult<(Value, Vec<Written>)> {
    let id = new_id();
    let now = now_ms();
    let tags = item
        .body
        .as_deref()
        .map(validate::tags_in)
        .unwrap_or_default();
    let tag_text = tags.join(" ");
    sqlx::query(
        "INSERT INTO items (id, group_id, author_id, kind, body, photo_id, blob, duration_ms, at_offset_ms, call_item_id, tags, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&id)
    .bind(item.group)
    .bind(item.author)
    .bind(item.kind)
    .bind(&item.body)
    .bind(&item.photo)
    .bind(&item.blob)
    .bind(item.duration_ms)
    .bind(item.at_offset_ms)
    .bind(&item.call_item)
    .bind(&tag_text)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    for t in &tags {
        sqlx::query("INSERT INTO item_tags (item_id, group_id, tag) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(item.group)
            .bind(t)
            .execute(&mut *conn)
            .await?;
    }
    let mentions = match (item.kind, item.body.as_deref()) {
        ("text", Some(b)) => validate::mentions_in(b),
        _ => Vec::new(),
    };
    // Display names are needed only to resolve @mentions.
    let handles: Vec<(String, String)> = if mentions.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(
            "SELECT a.id, a.display_name FROM members m JOIN accounts a ON a.id = m.account_id \
             WHERE m.group_id = $1",
        )
        .bind(item.group)
        .fetch_all(&mut *conn)
        .await?
    };
    let subject: Option<String> = item.body.as_deref().map(|b| b.chars().take(100).collect());
    let mut notes = Vec::new();
    for account in &item.members {
        if account == item.author {
            continue;
        }
        let mentioned = handles.iter().any(|(id, name)| {
            id == account
                && mentions.contains(
                    &name
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect::<String>()
                        .to_lowercase(),
                )
        });
        let kind = if item.kind == "call" {
            "call_started"
        } else if mentioned {
            "mention"
        } else {
            "new_item"
        };
        notes.push(NewNotification {
            account: account.clone(),
            kind,
            group: Some(item.group.to_owned()),
            item: Some(id.clone()),
            actor: Some(item.author.to_owned()),
            subject: subject.clone(),
        });
    }
    let written = notifications::insert(conn, &notes).await?;
    let row = ItemRow {
        id,
        group_id: item.group.to_owned(),
        author_id: item.author.to_owned(),
        kind: item.kind.to_owned(),
        body: item.body,
        photo_id: item.photo,
        duration_ms: item.duration_ms,
        at_offset_ms: item.at_offset_ms,
        call_item_id: item.call_item,
        tags: tag_text,
        created_at: now,
        edited_at: None,
        width: None,
        height: None,
    };
    Ok((row.to_json(), written))
}

/// The routes of this resource.
pub fn routes() -> Vec<ApiRoute> {
    let tag = "timeline";
    let text = json!({"type": "object", "required": ["text"], "properties": {"text": {"type": "string", "minLength": 1, "maxLength": validate::MAX_TEXT_CHARS}}});
    vec![
        api::post("/v1/groups/{group_id}/items", post_text)
            .doc(tag, "Post a text (#tags and @mentions are recognised)")
            .creates()
            .json(text.clone()),
        api::get("/v1/groups/{group_id}/items", list_items)
            .doc(tag, "The group's timeline, newest first")
            .paginated()
            .query(&[
                ("tag", "only items with this #tag (in text or marks)"),
                ("kind", "text, photo, voice or call"),
            ]),
        api::get("/v1/groups/{group_id}/items/{item_id}", get_item).doc(tag, "One item"),
        api::patch("/v1/groups/{group_id}/items/{item_id}", edit_item)
            .doc(tag, "Edit your own text")
            .json(text),
        api::delete("/v1/groups/{group_id}/items/{item_id}", delete_item)
            .doc(tag, "Delete your own item")
            .status(StatusCode::NO_CONTENT),
    ]
}

/// Router for this resource.
pub fn router(cfg: &crate::config::Config) -> axum::Router<AppState> {
    api::router(routes(), cfg)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextBody {
    text: String,
}

async fn post_text(
    State(st): State<AppState>,
    auth: Auth,
    idem: Idem,
    ApiPath(group): ApiPath<Uuid>,
    ApiJson(body, fp): ApiJson<TextBody>,
) -> ApiResult<Response> {
    require_member(&st, &group, &auth.account).await?;
    let text = validate::text(&body.text)?;
    let gid = group.to_string();
    let members = crate::groups::member_ids(&st, &gid).await?;
    let job = crate::batch::TextJob {
        group: gid.clone(),
        author: auth.account.clone(),
        text,
        members,
        idem: idem.parts(&fp),
    };
    match st.texts.submit(job).await? {
        crate::batch::JobOutcome::Created { body, notify } => {
            st.caches.touch(Touch::Items(&gid));
            notifications::publish(&st, notify);
            Ok(crate::api::created(body))
        }
        crate::batch::JobOutcome::KeyTaken => {
            match idem.replay(&st.store, &auth.account, &fp).await? {
                Some(r) => Ok(r),
                None => Err(ApiError::conflict(
                    "idempotency_key_in_use",
                    "a request with this Idempotency-Key is being processed; retry",
                )),
            }
        }
    }
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<u32>,
    cursor: Option<String>,
    tag: Option<String>,
    kind: Option<String>,
}

/// Lists a group's items newest first, optionally by tag and kind (shared with calls).
pub async fn list(st: &AppState, group: &str, q: &ListQuery2) -> ApiResult<Response> {
    let key = format!(
        "items|{}|{}|{}|{}",
        q.after.as_deref().unwrap_or(""),
        q.limit,
        q.tag.as_deref().unwrap_or(""),
        q.kind.as_deref().unwrap_or("")
    );
    if let Some(page) = st.caches.page(group, &key) {
        return Ok(json_bytes(page));
    }
    let seen = st.caches.generation(group);
    let rows: Vec<ItemRow> = sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM {ITEM_FROM} WHERE i.group_id = $1 AND ($2 = '' OR i.id < $2) \
         AND ($3 = '' OR i.kind = $3) \
         AND ($4 = '' OR i.id IN (SELECT t.item_id FROM item_tags t WHERE t.group_id = $1 AND t.tag = $4) \
              OR i.id IN (SELECT k.item_id FROM marks k WHERE k.group_id = $1 AND k.tag = $4)) \
         ORDER BY i.id DESC LIMIT $5"
    ))
    .bind(group)
    .bind(q.after.clone().unwrap_or_default())
    .bind(q.kind.clone().unwrap_or_default())
    .bind(q.tag.clone().unwrap_or_default())
    .bind(i64::from(q.limit) + 1)
    .fetch_all(st.store.r())
    .await?;
    let page =
        Bytes::from(page_json(rows, q.limit, |r| r.id.clone(), ItemRow::to_json).to_string());
    st.caches.put_page(group, seen, key, page.clone());
    Ok(json_bytes(page))
}

fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A validated list query.
#[derive(Debug)]
pub struct ListQuery2 {
    /// Cursor key.
    pub after: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Tag filter.
    pub tag: Option<String>,
    /// Kind filter.
    pub kind: Option<String>,
}

async fn list_items(
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
    let tag = q.tag.as_deref().map(validate::tag).transpose()?;
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k @ ("text" | "photo" | "voice" | "call")) => Some(k.to_owned()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "kind must be text, photo, voice or call",
            ))
        }
    };
    let q = ListQuery2 {
        after: page.after,
        limit: page.limit,
        tag,
        kind,
    };
    list(&st, &group.to_string(), &q).await
}

/// One item of `group` (already membership-checked by the caller).
pub async fn fetch_item(st: &AppState, group: &str, item: &str) -> ApiResult<ItemRow> {
    let row: Option<ItemRow> = sqlx::query_as(&format!(
        "SELECT {ITEM_COLUMNS} FROM {ITEM_FROM} WHERE i.group_id = $1 AND i.id = $2"
    ))
    .bind(group)
    .bind(item)
    .fetch_optional(st.store.r())
    .await?;
    row.ok_or_else(ApiError::not_found)
}

async fn get_item(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath((group, item)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    require_member(&st, &group, &auth.account).await?;
    Ok(ok(fetch_item(&st, &group.to_string(), &item.to_string())
        .await?
        .to_json()))
}

async fn edit_item(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath((group, item)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body, _): ApiJson<TextBody>,
) -> ApiResult<Response> {
    require_member(&st, &group, &auth.account).await?;
    let (gid, iid) = (group.to_string(), item.to_string());
    let existing = fetch_item(&st, &gid, &iid).await?;
    if existing.author_id != auth.account {
        return Err(ApiError::forbidden(
            "not_author",
            "only the author can edit an item",
        ));
    }
    if existing.kind != "text" {
        return Err(ApiError::conflict(
            "not_editable",
            "only texts can be edited",
        ));
    }
    let text = validate::text(&body.text)?;
    let tags = validate::tags_in(&text);
    let mut tx = st.store.w().begin().await?;
    sqlx::query(
        "UPDATE items SET body = $1, tags = $2, edited_at = $3 WHERE id = $4 AND group_id = $5",
    )
    .bind(&text)
    .bind(tags.join(" "))
    .bind(now_ms())
    .bind(&iid)
    .bind(&gid)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM item_tags WHERE item_id = $1")
        .bind(&iid)
        .execute(&mut *tx)
        .await?;
    for t in &tags {
        sqlx::query("INSERT INTO item_tags (item_id, group_id, tag) VALUES ($1, $2, $3)")
            .bind(&iid)
            .bind(&gid)
            .bind(t)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    st.caches.touch_items(&gid);
    Ok(ok(fetch_item(&st, &gid, &iid).await?.to_json()))
}

async fn delete_item(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath((group, item)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    require_member(&st, &group, &auth.account).await?;
    let (gid, iid) = (group.to_string(), item.to_string());
    let existing = fetch_item(&st, &gid, &iid).await?;
    if existing.author_id != auth.account {
        return Err(ApiError::forbidden(
            "not_author",
            "only the author can delete an item",
        ));
    }
    sqlx::query("DELETE FROM items WHERE id = $1 AND group_id = $2")
        .bind(&iid)
        .bind(&gid)
        .execute(st.store.w())
        .await?;
    st.caches.touch_items(&gid);
    Ok(no_content())
}
