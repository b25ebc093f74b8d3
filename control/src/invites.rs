//! Invitations: to an account (a notification with a subject; accepted or declined by the
//! invitee only) or as a link token that expires (stored hashed); joining through either.
//!
//! Owns: the `invites` table. Must never: let anyone but the invitee use an account
//! invitation, store a link token in clear, or admit anyone through an expired invitation.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::api::{self, no_content, ok, ApiRoute};
use crate::cache::Touch;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::groups::{require_member, require_role, Role};
use crate::idempotency::{Idem, Outcome};
use crate::notifications::{self, NewNotification};
use crate::store::{new_id, now_ms};
use crate::{validate, AppState};

/// The routes of this resource.
pub fn routes() -> Vec<ApiRoute> {
    let tag = "groups";
    vec![
        api::post("/v1/groups/{group_id}/invites", create_invite)
            .doc(tag, "Invite an account, or create a join link that expires (admin)")
            .creates()
            .json(json!({"type": "object", "properties": {
                "account_id": {"type": "string", "format": "uuid"},
                "expires_in_s": {"type": "integer", "minimum": 60, "maximum": 2592000},
                "subject": {"type": "string", "maxLength": 200}}})),
        api::get("/v1/invites", my_invites).doc(tag, "Invitations addressed to the caller"),
        api::post("/v1/invites/{invite_id}/accept", accept_invite).doc(tag, "Accept an invitation addressed to the caller"),
        api::post("/v1/invites/{invite_id}/decline", decline_invite).doc(tag, "Decline an invitation").status(StatusCode::NO_CONTENT),
        api::post("/v1/join", join_by_link)
            .doc(tag, "Join a group with a link token")
            .json(json!({"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}})),
    ]
}

/// Router for this resource.
pub fn router(cfg: &crate::config::Config) -> axum::Router<AppState> {
    api::router(routes(), cfg)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    account_id: Option<Uuid>,
    expires_in_s: Option<i64>,
    subject: Option<String>,
}

async fn create_invite(
    State(st): State<AppState>,
    auth: Auth,
    idem: Idem,
    ApiPath(group): ApiPath<Uuid>,
    ApiJson(body, fp): ApiJson<InviteBody>,
) -> ApiResult<Response> {
    require_role(
        require_member(&st, &group, &auth.account).await?,
        Role::Admin,
    )?;
    let ttl = body.expires_in_s.unwrap_or(7 * 24 * 3600);
    if !(60..=30 * 24 * 3600).contains(&ttl) {
        return Err(ApiError::invalid(
            "invalid_field",
            "expires_in_s must be 60 to 2592000",
        ));
    }
    let subject = body
        .subject
        .as_deref()
        .map(|s| validate::short_text(s, 200, "subject"))
        .transpose()?;
    let id = new_id();
    let now = now_ms();
    let expires_at = now + ttl * 1000;
    let gid = group.to_string();
    let mut tx = st.store.w().begin().await?;
    let (out, notify) = if let Some(invitee) = body.account_id {
        let invitee = invitee.to_string();
        let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM accounts WHERE id = $1")
            .bind(&invitee)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(ApiError::invalid("unknown_account", "no such account"));
        }
        let already: Option<(String,)> =
            sqlx::query_as("SELECT role FROM members WHERE group_id = $1 AND account_id = $2")
                .bind(&gid)
                .bind(&invitee)
                .fetch_optional(&mut *tx)
                .await?;
        if already.is_some() {
            return Err(ApiError::conflict(
                "already_member",
                "the account is already a member",
            ));
        }
        sqlx::query(
            "INSERT INTO invites (id, group_id, created_by, invitee_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(&gid)
        .bind(&auth.account)
        .bind(&invitee)
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let n = NewNotification {
            account: invitee.clone(),
            kind: "invitation",
            group: Some(gid.clone()),
            item: Some(id.clone()),
            actor: Some(auth.account.clone()),
            subject: subject.clone(),
        };
        (
            json!({"invite_id": id, "group_id": gid, "account_id": invitee, "expires_at": expires_at}),
            vec![n],
        )
    } else {
        let token = format!("inv_{}", tokens_secret());
        sqlx::query(
            "INSERT INTO invites (id, group_id, created_by, token_hash, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(&gid)
        .bind(&auth.account)
        .bind(crate::accounts::tokens::hash_token(&token))
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        (
            json!({"invite_id": id, "group_id": gid, "token": token, "expires_at": expires_at}),
            vec![],
        )
    };
    let rows = notifications::insert(&mut tx, &notify).await?;
    idem.commit(
        &st,
        tx,
        &auth.account,
        &fp,
        Outcome {
            body: out,
            notify: rows,
            touch: Touch::Nothing,
        },
    )
    .await
}

fn tokens_secret() -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut raw = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

async fn my_invites(State(st): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT i.id, i.group_id, g.name, i.created_by, i.expires_at FROM invites i JOIN talk_groups g ON g.id = i.group_id \
         WHERE i.invitee_id = $1 AND i.expires_at > $2 ORDER BY i.id",
    )
    .bind(&auth.account)
    .bind(now_ms())
    .fetch_all(st.store.r())
    .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|(id, g, name, by, exp)| json!({"invite_id": id, "group_id": g, "group_name": name, "invited_by": by, "expires_at": exp}))
        .collect();
    Ok(ok(json!({"items": items})))
}

async fn join(
    st: &AppState,
    tx: &mut sqlx::AnyConnection,
    group: &str,
    account: &str,
) -> ApiResult<Value> {
    sqlx::query(
        "INSERT INTO members (group_id, account_id, role, joined_at) VALUES ($1, $2, 'member', $3) ON CONFLICT DO NOTHING",
    )
    .bind(group)
    .bind(account)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    let _ = st;
    Ok(json!({"group_id": group, "role": "member"}))
}

async fn accept_invite(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath(invite): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let mut tx = st.store.w().begin().await?;
    let row: Option<(String, i64)> = sqlx::query_as(
        "DELETE FROM invites WHERE id = $1 AND invitee_id = $2 RETURNING group_id, expires_at",
    )
    .bind(invite.to_string())
    .bind(&auth.account)
    .fetch_optional(&mut *tx)
    .await?;
    let (group, expires_at) = row.ok_or_else(ApiError::not_found)?;
    if expires_at <= now_ms() {
        tx.commit().await?;
        return Err(ApiError::new(
            StatusCode::GONE,
            "invite_expired",
            "the invitation has expired",
        ));
    }
    let out = join(&st, &mut tx, &group, &auth.account).await?;
    tx.commit().await?;
    st.caches.touch_members(&group);
    Ok(ok(out))
}

async fn decline_invite(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath(invite): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let res = sqlx::query("DELETE FROM invites WHERE id = $1 AND invitee_id = $2")
        .bind(invite.to_string())
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
struct JoinBody {
    token: String,
}

async fn join_by_link(
    State(st): State<AppState>,
    auth: Auth,
    ApiJson(body, _): ApiJson<JoinBody>,
) -> ApiResult<Response> {
    let bad = || ApiError::not_found();
    if body.token.len() > 200 {
        return Err(bad());
    }
    let mut tx = st.store.w().begin().await?;
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT group_id, expires_at FROM invites WHERE token_hash = $1")
            .bind(crate::accounts::tokens::hash_token(&body.token))
            .fetch_optional(&mut *tx)
            .await?;
    let (group, expires_at) = row.ok_or_else(bad)?;
    if expires_at <= now_ms() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "invite_expired",
            "the invitation link has expired",
        ));
    }
    let out = join(&st, &mut tx, &group, &auth.account).await?;
    tx.commit().await?;
    st.caches.touch_members(&group);
    Ok(ok(out))
}
