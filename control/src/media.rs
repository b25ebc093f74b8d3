//! Media on the timeline: photo uploads (Tap to Show: an optional offset into a call) and
//! voice notes (Ogg Opus, validated by `talko_codecs::ogg::OggOpusReader`), stored in the
//! content-addressed blob store and served with range support.
//!
//! Owns: the `photos` table and the upload/serve routes. The pixel pipeline and the blob
//! store are `crate::photos`. Must never: decode or parse an upload on an async worker
//! (both run on `spawn_blocking`), serve a blob to someone outside its group, or trust a
//! client's Content-Type.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::{self, ApiRoute};
use crate::cache::Touch;
use crate::error::{ApiError, ApiResult};
use crate::extract::{body_error, ApiPath, ApiQuery, Auth};
use crate::groups::require_member;
use crate::idempotency::{Idem, Outcome};
use crate::photos::{self, Hash};
use crate::store::{new_id, now_ms};
use crate::timeline::{fetch_item, insert_item, NewItem};
use crate::{validate, AppState};

const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp"];
const VOICE_TYPES: &[&str] = &["audio/ogg", "audio/opus"];

/// The routes of this resource.
pub fn routes() -> Vec<ApiRoute> {
    let tag = "photos";
    vec![
        api::post("/v1/groups/{group_id}/photos", post_group_photo)
            .doc(
                tag,
                "Post a photo to the timeline, optionally pinned to a moment of a call",
            )
            .creates()
            .upload(IMAGE_TYPES)
            .query(&[
                ("caption", "text shown with the photo"),
                ("call_item_id", "the call the photo was shown in"),
                (
                    "at_offset_ms",
                    "offset into that call's recording (Tap to Show)",
                ),
            ]),
        api::post("/v1/photos", post_avatar_photo)
            .doc(tag, "Upload a photo outside any group (an avatar)")
            .creates()
            .upload(IMAGE_TYPES),
        api::get("/v1/photos/{photo_id}", get_photo)
            .doc(
                tag,
                "A photo or a thumbnail (size=96 or 640); ranges supported",
            )
            .query(&[(
                "size",
                "96 or 640 for a thumbnail; absent for the full photo",
            )]),
        api::post("/v1/groups/{group_id}/voice", post_voice)
            .doc("timeline", "Post a voice note (Ogg Opus)")
            .creates()
            .upload(VOICE_TYPES),
        api::get("/v1/groups/{group_id}/items/{item_id}/voice", get_voice)
            .doc("timeline", "A voice note's audio; ranges supported"),
    ]
}

/// Router for this resource.
pub fn router(cfg: &crate::config::Config) -> axum::Router<AppState> {
    api::router(routes(), cfg)
}

/// Reads a raw upload body: must be non-empty and within the route's limit.
async fn read_upload(req: axum::extract::Request) -> ApiResult<Bytes> {
    use axum::extract::FromRequest as _;
    let body = Bytes::from_request(req, &())
        .await
        .map_err(|e| body_error(e.status()))?;
    if body.is_empty() {
        return Err(ApiError::bad_request("empty_body", "the upload is empty"));
    }
    Ok(body)
}

fn fingerprint(query: &str, body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(query.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().into()
}

fn photo_error(e: photos::PhotoError) -> ApiError {
    if e.status().is_server_error() {
        ApiError::internal(e)
    } else {
        ApiError::new(e.status(), e.code(), e.to_string())
    }
}

/// A processed photo whose blobs are stored, ready for its row.
struct Prepared {
    original: String,
    mime: &'static str,
    width: u32,
    height: u32,
    thumbs: Vec<Value>,
}

/// Runs the photo pipeline on a blocking thread and stores original + thumbnails (before
/// any transaction starts, so the writer is never held during decoding).
async fn prepare_photo(st: &AppState, bytes: Bytes) -> ApiResult<Prepared> {
    let limits = photos::Limits {
        max_bytes: st.config.max_upload_bytes,
        ..photos::Limits::default()
    };
    let processed = tokio::task::spawn_blocking(move || photos::process(&bytes, &limits))
        .await?
        .map_err(photo_error)?;
    let original = st.blobs.put_async(processed.original).await?;
    let mut thumbs = Vec::new();
    for t in processed.thumbs {
        let (size, mime, w, h) = (t.size, t.mime, t.width, t.height);
        let hash = st.blobs.put_async(t.bytes).await?;
        thumbs.push(
            json!({"size": size, "blob": hash.to_hex(), "mime": mime, "width": w, "height": h}),
        );
    }
    Ok(Prepared {
        original: original.to_hex(),
        mime: processed.mime,
        width: processed.width,
        height: processed.height,
        thumbs,
    })
}

/// Inserts the `photos` row; returns the id and the photo JSON.
async fn insert_photo(
    conn: &mut sqlx::AnyConnection,
    owner: &str,
    group: Option<&str>,
    p: &Prepared,
) -> ApiResult<(String, Value)> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO photos (id, owner_id, group_id, blob, mime, width, height, thumbs, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(owner)
    .bind(group)
    .bind(&p.original)
    .bind(p.mime)
    .bind(i64::from(p.width))
    .bind(i64::from(p.height))
    .bind(Value::Array(p.thumbs.clone()).to_string())
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    let sizes: Vec<&Value> = p.thumbs.iter().filter_map(|t| t.get("size")).collect();
    let out = json!({"photo_id": id, "mime": p.mime, "width": p.width, "height": p.height,
        "thumbnail_sizes": sizes, "url": format!("/v1/photos/{id}")});
    Ok((id, out))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhotoQuery {
    caption: Option<String>,
    call_item_id: Option<Uuid>,
    at_offset_ms: Option<i64>,
}

async fn post_group_photo(
    State(st): State<AppState>,
    auth: Auth,
    idem: Idem,
    ApiPath(group): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PhotoQuery>,
    req: axum::extract::Request,
) -> ApiResult<Response> {
    require_member(&st, &group, &auth.account).await?;
    let query = req.uri().query().unwrap_or("").to_owned();
    let bytes = read_upload(req).await?;
    let fp = fingerprint(&query, &bytes);
    let gid = group.to_string();
    let caption = q.caption.as_deref().map(validate::text).transpose()?;
    if q.at_offset_ms.is_some() && q.call_item_id.is_none() {
        return Err(ApiError::invalid(
            "offset_needs_call",
            "at_offset_ms needs call_item_id",
        ));
    }
    if let Some(off) = q.at_offset_ms {
        if !(0..=7 * 24 * 3600 * 1000).contains(&off) {
            return Err(ApiError::invalid(
                "invalid_field",
                "at_offset_ms is out of range",
            ));
        }
    }
    if let Some(call) = q.call_item_id {
        let item = fetch_item(&st, &gid, &call.to_string())
            .await
            .map_err(|_| {
                ApiError::invalid("unknown_call", "call_item_id is not a call of this group")
            })?;
        if item.kind() != "call" {
            return Err(ApiError::invalid(
                "unknown_call",
                "call_item_id is not a call of this group",
            ));
        }
    }
    let prepared = prepare_photo(&st, bytes).await?;
    let members = crate::groups::member_ids(&st, &gid).await?;
    let mut tx = st.store.w().begin().await?;
    let (photo_id, photo) = insert_photo(&mut tx, &auth.account, Some(&gid), &prepared).await?;
    let (mut out, written) = insert_item(
        &mut tx,
        NewItem {
            members,
            group: &gid,
            author: &auth.account,
            kind: "photo",
            body: caption,
            photo: Some(photo_id),
            at_offset_ms: q.at_offset_ms,
            call_item: q.call_item_id.map(|c| c.to_string()),
            ..Default::default()
        },
    )
    .await?;
    if let Some(o) = out.as_object_mut() {
        o.insert("photo".into(), photo);
    }
    idem.commit(
        &st,
        tx,
        &auth.account,
        &fp,
        Outcome {
            body: out,
            notify: written,
            touch: Touch::Items(&gid),
        },
    )
    .await
}

async fn post_avatar_photo(
    State(st): State<AppState>,
    auth: Auth,
    idem: Idem,
    req: axum::extract::Request,
) -> ApiResult<Response> {
    let bytes = read_upload(req).await?;
    let fp = fingerprint("", &bytes);
    let prepared = prepare_photo(&st, bytes).await?;
    let mut tx = st.store.w().begin().await?;
    let (_, out) = insert_photo(&mut tx, &auth.account, None, &prepared).await?;
    idem.commit(
        &st,
        tx,
        &auth.account,
        &fp,
        Outcome {
            body: out,
            notify: Vec::new(),
            touch: Touch::Nothing,
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SizeQuery {
    size: Option<u32>,
}

async fn get_photo(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath(photo): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<SizeQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let row: Option<(Option<String>, String, String, String)> =
        sqlx::query_as("SELECT group_id, blob, mime, thumbs FROM photos WHERE id = $1")
            .bind(photo.to_string())
            .fetch_optional(st.store.r())
            .await?;
    let (group, blob, mime, thumbs) = row.ok_or_else(ApiError::not_found)?;
    // Group photos are for members; photos outside groups (avatars) for any account.
    if let Some(g) = group {
        let g = Uuid::parse_str(&g).map_err(|_| ApiError::not_found())?;
        require_member(&st, &g, &auth.account).await?;
    }
    let (blob, mime) = match q.size {
        None => (blob, mime),
        Some(size) => {
            let thumbs: Value = serde_json::from_str(&thumbs).map_err(ApiError::internal)?;
            let t = thumbs
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .find(|t| t.get("size").and_then(Value::as_u64) == Some(u64::from(size)))
                })
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_query",
                        "size must be one of the thumbnail sizes",
                    )
                })?;
            let b = t
                .get("blob")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let m = t
                .get("mime")
                .and_then(Value::as_str)
                .unwrap_or("image/jpeg")
                .to_owned();
            (b, m)
        }
    };
    serve_blob(&st, &blob, &mime, &headers).await
}

async fn serve_blob(
    st: &AppState,
    blob: &str,
    mime: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let hash: Hash = blob
        .parse()
        .map_err(|_| ApiError::internal("stored blob hash is malformed"))?;
    let path = st.blobs.path(&hash);
    if !path.is_file() {
        return Err(ApiError::internal(format_args!("blob {blob} is missing")));
    }
    Ok(photos::serve(&path, mime, headers).await)
}

/// Validates an Ogg Opus voice note; returns its playable duration in ms.
pub fn validate_voice(bytes: &[u8]) -> ApiResult<i64> {
    let reader = talko_codecs::ogg::OggOpusReader::new(bytes).map_err(|e| {
        ApiError::invalid(
            "invalid_voice_note",
            format!("not a valid Ogg Opus file: {e}"),
        )
    })?;
    let ms = i64::try_from(reader.duration().as_millis()).unwrap_or(i64::MAX);
    if reader.packets().is_empty() || ms == 0 {
        return Err(ApiError::invalid(
            "invalid_voice_note",
            "the voice note has no audio",
        ));
    }
    Ok(ms)
}

async fn post_voice(
    State(st): State<AppState>,
    auth: Auth,
    idem: Idem,
    ApiPath(group): ApiPath<Uuid>,
    req: axum::extract::Request,
) -> ApiResult<Response> {
    require_member(&st, &group, &auth.account).await?;
    let bytes = read_upload(req).await?;
    let fp = fingerprint("", &bytes);
    let check = bytes.clone();
    let duration_ms = tokio::task::spawn_blocking(move || validate_voice(&check)).await??;
    let hash = st.blobs.put_async(bytes.to_vec()).await?;
    let gid = group.to_string();
    let members = crate::groups::member_ids(&st, &gid).await?;
    let mut tx = st.store.w().begin().await?;
    let (out, written) = insert_item(
        &mut tx,
        NewItem {
            members,
            group: &gid,
            author: &auth.account,
            kind: "voice",
            blob: Some(hash.to_hex()),
            duration_ms: Some(duration_ms),
            ..Default::default()
        },
    )
    .await?;
    idem.commit(
        &st,
        tx,
        &auth.account,
        &fp,
        Outcome {
            body: out,
            notify: written,
            touch: Touch::Items(&gid),
        },
    )
    .await
}

async fn get_voice(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath((group, item)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    require_member(&st, &group, &auth.account).await?;
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT blob FROM items WHERE id = $1 AND group_id = $2 AND kind = 'voice'")
            .bind(item.to_string())
            .bind(group.to_string())
            .fetch_optional(st.store.r())
            .await?;
    let blob = row.and_then(|(b,)| b).ok_or_else(ApiError::not_found)?;
    serve_blob(&st, &blob, "audio/ogg", &headers).await
}
