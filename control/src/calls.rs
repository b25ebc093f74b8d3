//! Calls (placeholder): starting a call puts a call item on the group's timeline and
//! notifies every other member (`call_started`, with the subject; nothing rings). Placing
//! the call on an engine, keys and recordings attach here later.
//!
//! Owns: call items' creation and listing. Must never: ring (block) a member's client.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::api::{self, ApiRoute};
use crate::cache::Touch;
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, PageQuery};
use crate::groups::require_member;
use crate::idempotency::{Idem, Outcome};
use crate::timeline::{self, insert_item, ListQuery2, NewItem};
use crate::{validate, AppState};

/// The routes of this resource.
pub fn routes() -> Vec<ApiRoute> {
    let tag = "calls";
    vec![
        api::post("/v1/groups/{group_id}/calls", start_call)
            .doc(tag, "Start a call: a call item on the timeline and call_started notifications")
            .creates()
            .json(json!({"type": "object", "properties": {"subject": {"type": "string", "maxLength": 200}}})),
        api::get("/v1/groups/{group_id}/calls", list_calls).doc(tag, "The group's call items, newest first").paginated(),
    ]
}

/// Router for this resource.
pub fn router(cfg: &crate::config::Config) -> axum::Router<AppState> {
    api::router(routes(), cfg)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallBody {
    subject: Option<String>,
}

async fn start_call(
    State(st): State<AppState>,
    auth: Auth,
    idem: Idem,
    ApiPath(group): ApiPath<Uuid>,
    ApiJson(body, fp): ApiJson<CallBody>,
) -> ApiResult<Response> {
    require_member(&st, &group, &auth.account).await?;
    let subject = body
        .subject
        .as_deref()
        .map(|s| validate::short_text(s, 200, "subject"))
        .transpose()?;
    let gid = group.to_string();
    let members = crate::groups::member_ids(&st, &gid).await?;
    let mut tx = st.store.w().begin().await?;
    let (out, written) = insert_item(
        &mut tx,
        NewItem {
            members,
            group: &gid,
            author: &auth.account,
            kind: "call",
            body: subject,
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

async fn list_calls(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath(group): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Response> {
    require_member(&st, &group, &auth.account).await?;
    let page = q.page()?;
    let q = ListQuery2 {
        after: page.after,
        limit: page.limit,
        tag: None,
        kind: Some("call".into()),
    };
    timeline::list(&st, &group.to_string(), &q).await
}
