//! Groups (teams): create, rename, list, members and roles, leave and remove (invitations
//! and joining are `crate::invites`).
//!
//! Owns: the `talk_groups` and `members` tables, and `require_member`, the one
//! gate every group-scoped route passes. Must never: tell a non-member anything about a
//! group — every group-scoped answer to a non-member is the same 404 as for a group that
//! does not exist.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::api::{self, no_content, ok, ApiRoute};
use crate::cache::Touch;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::idempotency::{Idem, Outcome};
use crate::store::{new_id, now_ms};
use crate::{validate, AppState};

/// A member's role, with the permissions it implies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads, posts, marks, leaves.
    Member,
    /// Also renames, invites and removes members.
    Admin,
    /// Also changes roles; cannot leave while other members remain.
    Owner,
}

impl Role {
    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

/// The caller's role in `group`, or 404 if the group does not exist or they are not in it.
pub async fn require_member(st: &AppState, group: &Uuid, account: &str) -> ApiResult<Role> {
    if st.caches.enabled() {
        let members = members(st, &group.to_string()).await?;
        return members
            .get(account)
            .copied()
            .ok_or_else(ApiError::not_found);
    }
    let row: Option<(String,)> =
        sqlx::query_as("SELECT role FROM members WHERE group_id = $1 AND account_id = $2")
            .bind(group.to_string())
            .bind(account)
            .fetch_optional(st.store.r())
            .await?;
    row.and_then(|(r,)| Role::parse(&r))
        .ok_or_else(ApiError::not_found)
}

/// Every member of `group` with their role (cached in the single-node mode).
pub async fn members(st: &AppState, group: &str) -> ApiResult<Arc<HashMap<String, Role>>> {
    if let Some(m) = st.caches.members(group) {
        return Ok(m);
    }
    let seen = st.caches.generation(group);
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT account_id, role FROM members WHERE group_id = $1")
            .bind(group)
            .fetch_all(st.store.r())
            .await?;
    let map: Arc<HashMap<String, Role>> = Arc::new(
        rows.into_iter()
            .filter_map(|(a, r)| Role::parse(&r).map(|r| (a, r)))
            .collect(),
    );
    st.caches.put_members(group, seen, map.clone());
    Ok(map)
}

/// 403 unless `have` is at least `need`.
pub fn require_role(have: Role, need: Role) -> ApiResult<()> {
    if have >= need {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "insufficient_role",
            format!("this needs the {} role", need.as_str()),
        ))
    }
}

/// Account ids of every member of `group`.
pub async fn member_ids(st: &AppState, group: &str) -> ApiResult<Vec<String>> {
    Ok(members(st, group).await?.keys().cloned().collect())
}

/// The routes of this resource.
pub fn routes() -> Vec<ApiRoute> {
    let tag = "groups";
    let name = json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100}}});
    vec![
        api::post("/v1/groups", create_group).doc(tag, "Create a group; the caller becomes its owner").creates().json(name.clone()).returns(group_schema()),
        api::get("/v1/groups", list_groups).doc(tag, "The caller's groups"),
        api::get("/v1/groups/{group_id}", get_group).doc(tag, "A group (members only)").returns(group_schema()),
        api::patch("/v1/groups/{group_id}", rename_group).doc(tag, "Rename a group (admin)").json(name),
        api::get("/v1/groups/{group_id}/members", list_members).doc(tag, "Members and their roles"),
        api::patch("/v1/groups/{group_id}/members/{account_id}", set_role)
            .doc(tag, "Change a member's role (owner)")
            .json(json!({"type": "object", "required": ["role"], "properties": {"role": {"enum": ["admin", "member"]}}})),
        api::delete("/v1/groups/{group_id}/members/{account_id}", remove_member)
            .doc(tag, "Remove a member (admin), or leave when account_id is yours")
            .status(StatusCode::NO_CONTENT),
    ]
}

/// Router for this resource.
pub fn router(cfg: &crate::config::Config) -> axum::Router<AppState> {
    api::router(routes(), cfg)
}

fn group_schema() -> Value {
    json!({"type": "object", "properties": {"group_id": {"type": "string"}, "name": {"type": "string"},
        "role": {"type": "string"}, "created_at": {"type": "integer"}}})
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameBody {
    name: String,
}

async fn create_group(
    State(st): State<AppState>,
    auth: Auth,
    idem: Idem,
    ApiJson(body, fp): ApiJson<NameBody>,
) -> ApiResult<Response> {
    let name = validate::short_text(&body.name, 100, "name")?;
    let id = new_id();
    let now = now_ms();
    let mut tx = st.store.w().begin().await?;
    sqlx::query(
        "INSERT INTO talk_groups (id, name, created_by, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(&name)
    .bind(&auth.account)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO members (group_id, account_id, role, joined_at) VALUES ($1, $2, 'owner', $3)",
    )
    .bind(&id)
    .bind(&auth.account)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let out = json!({"group_id": id, "name": name, "role": "owner", "created_at": now});
    idem.commit(
        &st,
        tx,
        &auth.account,
        &fp,
        Outcome {
            body: out,
            notify: Vec::new(),
            touch: Touch::Members(&id),
        },
    )
    .await
}

async fn list_groups(State(st): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT g.id, g.name, m.role, g.created_at FROM talk_groups g JOIN members m ON m.group_id = g.id \
         WHERE m.account_id = $1 ORDER BY g.id",
    )
    .bind(&auth.account)
    .fetch_all(st.store.r())
    .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|(id, name, role, at)| json!({"group_id": id, "name": name, "role": role, "created_at": at}))
        .collect();
    Ok(ok(json!({"items": items})))
}

async fn get_group(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath(group): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let role = require_member(&st, &group, &auth.account).await?;
    let row: Option<(String, i64, i64)> = sqlx::query_as(
        "SELECT g.name, g.created_at, (SELECT COUNT(*) FROM members m WHERE m.group_id = g.id) \
         FROM talk_groups g WHERE g.id = $1",
    )
    .bind(group.to_string())
    .fetch_optional(st.store.r())
    .await?;
    let (name, at, count) = row.ok_or_else(ApiError::not_found)?;
    Ok(ok(
        json!({"group_id": group, "name": name, "role": role.as_str(), "created_at": at, "member_count": count}),
    ))
}

async fn rename_group(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath(group): ApiPath<Uuid>,
    ApiJson(body, _): ApiJson<NameBody>,
) -> ApiResult<Response> {
    require_role(
        require_member(&st, &group, &auth.account).await?,
        Role::Admin,
    )?;
    let name = validate::short_text(&body.name, 100, "name")?;
    sqlx::query("UPDATE talk_groups SET name = $1 WHERE id = $2")
        .bind(&name)
        .bind(group.to_string())
        .execute(st.store.w())
        .await?;
    Ok(ok(json!({"group_id": group, "name": name})))
}

async fn list_members(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath(group): ApiPath<Uuid>,
) -> ApiResult<Response> {
    require_member(&st, &group, &auth.account).await?;
    let rows: Vec<(String, String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT a.id, a.display_name, m.role, a.avatar_photo_id, m.joined_at FROM members m \
         JOIN accounts a ON a.id = m.account_id WHERE m.group_id = $1 ORDER BY m.joined_at, a.id",
    )
    .bind(group.to_string())
    .fetch_all(st.store.r())
    .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|(id, name, role, avatar, at)| {
            json!({"account_id": id, "display_name": name, "role": role, "avatar_photo_id": avatar, "joined_at": at})
        })
        .collect();
    Ok(ok(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
}

async fn set_role(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath((group, member)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body, _): ApiJson<RoleBody>,
) -> ApiResult<Response> {
    require_role(
        require_member(&st, &group, &auth.account).await?,
        Role::Owner,
    )?;
    let role = match Role::parse(&body.role) {
        Some(r @ (Role::Admin | Role::Member)) => r,
        _ => {
            return Err(ApiError::invalid(
                "invalid_role",
                "role must be admin or member",
            ))
        }
    };
    if member.to_string() == auth.account {
        return Err(ApiError::conflict(
            "owner_role_fixed",
            "the owner's role cannot change",
        ));
    }
    let res = sqlx::query("UPDATE members SET role = $1 WHERE group_id = $2 AND account_id = $3")
        .bind(role.as_str())
        .bind(group.to_string())
        .bind(member.to_string())
        .execute(st.store.w())
        .await?;
    if res.rows_affected() == 0 {
        return Err(ApiError::not_found());
    }
    st.caches.touch_members(&group.to_string());
    Ok(ok(json!({"account_id": member, "role": role.as_str()})))
}

async fn remove_member(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath((group, member)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    let my_role = require_member(&st, &group, &auth.account).await?;
    let member = member.to_string();
    let gid = group.to_string();
    if member == auth.account {
        // Leaving. The owner may leave only as the last member (the group then goes).
        if my_role == Role::Owner {
            let others = member_ids(&st, &gid).await?.len().saturating_sub(1);
            if others > 0 {
                return Err(ApiError::conflict(
                    "owner_cannot_leave",
                    "the owner cannot leave while other members remain",
                ));
            }
            sqlx::query("DELETE FROM talk_groups WHERE id = $1")
                .bind(&gid)
                .execute(st.store.w())
                .await?;
            st.caches.touch_members(&gid);
            return Ok(no_content());
        }
    } else {
        require_role(my_role, Role::Admin)?;
        let their: Option<(String,)> =
            sqlx::query_as("SELECT role FROM members WHERE group_id = $1 AND account_id = $2")
                .bind(&gid)
                .bind(&member)
                .fetch_optional(st.store.r())
                .await?;
        let their = their
            .and_then(|(r,)| Role::parse(&r))
            .ok_or_else(ApiError::not_found)?;
        if their >= my_role {
            return Err(ApiError::forbidden(
                "insufficient_role",
                "you can only remove members below your role",
            ));
        }
    }
    sqlx::query("DELETE FROM members WHERE group_id = $1 AND account_id = $2")
        .bind(&gid)
        .bind(&member)
        .execute(st.store.w())
        .await?;
    st.caches.touch_members(&gid);
    Ok(no_content())
}
