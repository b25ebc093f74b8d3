//! Accounts: registration with an emailed verification code, login and token refresh,
//! logout, devices and the caller's profile.
//!
//! Owns: the `accounts`, `verification_codes` and `devices` tables. Must never: hash a
//! password on the async runtime (argon2id runs on `spawn_blocking`), reveal whether an
//! email is registered through login or resend answers, or return a password hash.

pub mod password;
pub mod tokens;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{self, created, no_content, ok, ApiRoute};
use crate::error::{is_unique_violation, ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, Auth};
use crate::idempotency::{Idem, ANONYMOUS};
use crate::store::{new_id, now_ms};
use crate::validate;
use crate::AppState;

const CODE_TTL_MS: i64 = 15 * 60 * 1000;
const CODE_MAX_ATTEMPTS: i64 = 5;

/// The routes of this resource.
pub fn routes() -> Vec<ApiRoute> {
    let tag = "accounts";
    vec![
        api::post("/v1/accounts", register)
            .doc(tag, "Register with email and password; a verification code is mailed")
            .public()
            .creates()
            .json(json!({"type": "object", "required": ["email", "password", "display_name"], "properties": {
                "email": {"type": "string", "format": "email", "maxLength": 254},
                "password": {"type": "string", "minLength": 8, "maxLength": 1024},
                "display_name": {"type": "string", "minLength": 1, "maxLength": 64}}}))
            .returns(profile_schema()),
        api::post("/v1/accounts/verify", verify)
            .doc(tag, "Confirm the emailed verification code")
            .public()
            .json(json!({"type": "object", "required": ["email", "code"], "properties": {
                "email": {"type": "string"}, "code": {"type": "string"}}})),
        api::post("/v1/accounts/verify/resend", resend)
            .doc(tag, "Mail a new verification code (always 202)")
            .public()
            .status(StatusCode::ACCEPTED)
            .json(json!({"type": "object", "required": ["email"], "properties": {"email": {"type": "string"}}})),
        api::post("/v1/sessions", login)
            .doc(tag, "Log in: a new device with access and refresh tokens")
            .public()
            .status(StatusCode::CREATED)
            .json(json!({"type": "object", "required": ["email", "password"], "properties": {
                "email": {"type": "string"}, "password": {"type": "string"},
                "device_name": {"type": "string", "maxLength": 64}}}))
            .returns(session_schema()),
        api::post("/v1/sessions/refresh", refresh)
            .doc(tag, "Exchange a refresh token for a new token pair (the old one is revoked)")
            .public()
            .json(json!({"type": "object", "required": ["refresh_token"], "properties": {
                "refresh_token": {"type": "string"}}}))
            .returns(session_schema()),
        api::delete("/v1/sessions/current", logout)
            .doc(tag, "Log out: revoke this device and its tokens")
            .status(StatusCode::NO_CONTENT),
        api::get("/v1/devices", list_devices).doc(tag, "The caller's devices"),
        api::patch("/v1/devices/{device_id}", rename_device)
            .doc(tag, "Name a device")
            .json(json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 64}}})),
        api::delete("/v1/devices/{device_id}", revoke_device)
            .doc(tag, "Revoke a device and its tokens")
            .status(StatusCode::NO_CONTENT),
        api::get("/v1/me", get_me).doc(tag, "The caller's profile").returns(profile_schema()),
        api::patch("/v1/me", update_me)
            .doc(tag, "Update display name, avatar photo or discoverability")
            .json(json!({"type": "object", "properties": {
                "display_name": {"type": "string", "minLength": 1, "maxLength": 64},
                "avatar_photo_id": {"type": ["string", "null"], "format": "uuid"},
                "discoverable": {"type": "boolean"}}}))
            .returns(profile_schema()),
    ]
}

/// Router for this resource.
pub fn router(cfg: &crate::config::Config) -> axum::Router<AppState> {
    api::router(routes(), cfg)
}

fn profile_schema() -> Value {
    json!({"type": "object", "properties": {
        "account_id": {"type": "string", "format": "uuid"}, "email": {"type": "string"},
        "display_name": {"type": "string"}, "avatar_photo_id": {"type": ["string", "null"]},
        "email_verified": {"type": "boolean"}, "discoverable": {"type": "boolean"}}})
}

fn session_schema() -> Value {
    json!({"type": "object", "properties": {
        "access_token": {"type": "string"}, "refresh_token": {"type": "string"},
        "token_type": {"type": "string"}, "expires_in": {"type": "integer"},
        "account_id": {"type": "string"}, "device_id": {"type": "string"}}})
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    email: String,
    password: String,
    display_name: String,
}

fn code_hash(account: &str, code: &str) -> String {
    tokens::hash_token(&format!("{account}:{code}"))
}

async fn register(
    State(st): State<AppState>,
    idem: Idem,
    ApiJson(body, fp): ApiJson<RegisterBody>,
) -> ApiResult<Response> {
    if let Some(r) = idem.replay(&st.store, ANONYMOUS, &fp).await? {
        return Ok(r);
    }
    let email = validate::email(&body.email)?;
    let display_name = validate::display_name(&body.display_name)?;
    if body.password.chars().count() < 8 || body.password.len() > 1024 {
        return Err(ApiError::invalid(
            "weak_password",
            "the password must have 8 to 1024 characters",
        ));
    }
    let hash = password::hash(body.password).await?;
    let id = new_id();
    let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000u32));
    let pepper = crate::contacts::current_pepper(&st.store).await?;
    let now = now_ms();
    let mut tx = st.store.w().begin().await?;
    let res = sqlx::query(
        "INSERT INTO accounts (id, email, password_hash, display_name, email_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(&email)
    .bind(&hash)
    .bind(&display_name)
    .bind(crate::contacts::email_hash(&email, &pepper))
    .bind(now)
    .execute(&mut *tx)
    .await;
    match res {
        Err(e) if is_unique_violation(&e) => {
            return Err(ApiError::conflict(
                "email_taken",
                "an account with this email exists",
            ))
        }
        r => {
            r?;
        }
    }
    sqlx::query(
        "INSERT INTO verification_codes (account_id, code_hash, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(&id)
    .bind(code_hash(&id, &code))
    .bind(now + CODE_TTL_MS)
    .execute(&mut *tx)
    .await?;
    let out = json!({"account_id": id, "email": email, "display_name": display_name,
        "avatar_photo_id": null, "email_verified": false, "discoverable": true});
    idem.record(&mut tx, ANONYMOUS, &fp, StatusCode::CREATED, &out)
        .await?;
    tx.commit().await?;
    if let Err(e) = st.mailer.send_verification(&email, &code).await {
        tracing::warn!(error = %e, "verification mail not sent; the user can ask for a resend");
    }
    Ok(created(out))
}

#[derive(Deserialize)]
struct VerifyBody {
    email: String,
    code: String,
}

async fn verify(
    State(st): State<AppState>,
    ApiJson(body, _): ApiJson<VerifyBody>,
) -> ApiResult<Response> {
    let bad = || ApiError::invalid("invalid_code", "the code is wrong or expired");
    let email = validate::email(&body.email).map_err(|_| bad())?;
    let row: Option<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT a.id, v.code_hash, v.expires_at, v.attempts FROM accounts a \
         JOIN verification_codes v ON v.account_id = a.id WHERE a.email = $1",
    )
    .bind(&email)
    .fetch_optional(st.store.w())
    .await?;
    let Some((id, hash, expires_at, attempts)) = row else {
        return Err(bad());
    };
    if attempts >= CODE_MAX_ATTEMPTS {
        return Err(ApiError::rate_limited(
            "too many wrong codes; ask for a new one",
        ));
    }
    if expires_at <= now_ms() || code_hash(&id, body.code.trim()) != hash {
        sqlx::query("UPDATE verification_codes SET attempts = attempts + 1 WHERE account_id = $1")
            .bind(&id)
            .execute(st.store.w())
            .await?;
        return Err(bad());
    }
    let mut tx = st.store.w().begin().await?;
    sqlx::query("UPDATE accounts SET email_verified = 1 WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM verification_codes WHERE account_id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(ok(json!({"account_id": id, "email_verified": true})))
}

#[derive(Deserialize)]
struct ResendBody {
    email: String,
}

async fn resend(
    State(st): State<AppState>,
    ApiJson(body, _): ApiJson<ResendBody>,
) -> ApiResult<Response> {
    let accepted =
        || Ok((StatusCode::ACCEPTED, axum::Json(json!({"accepted": true}))).into_response());
    use axum::response::IntoResponse;
    let Ok(email) = validate::email(&body.email) else {
        return accepted();
    };
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT id, email_verified FROM accounts WHERE email = $1")
            .bind(&email)
            .fetch_optional(st.store.r())
            .await?;
    let Some((id, 0)) = row else {
        return accepted();
    };
    let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000u32));
    sqlx::query(
        "INSERT INTO verification_codes (account_id, code_hash, expires_at, attempts) VALUES ($1, $2, $3, 0) \
         ON CONFLICT (account_id) DO UPDATE SET code_hash = excluded.code_hash, \
         expires_at = excluded.expires_at, attempts = 0",
    )
    .bind(&id)
    .bind(code_hash(&id, &code))
    .bind(now_ms() + CODE_TTL_MS)
    .execute(st.store.w())
    .await?;
    if let Err(e) = st.mailer.send_verification(&email, &code).await {
        tracing::warn!(error = %e, "verification mail not sent");
    }
    accepted()
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
    device_name: Option<String>,
}

fn session_json(account: &str, device: &str, t: &tokens::Issued) -> Value {
    json!({"access_token": t.access, "refresh_token": t.refresh, "token_type": "Bearer",
        "expires_in": t.expires_in, "account_id": account, "device_id": device})
}

async fn login(
    State(st): State<AppState>,
    ApiJson(body, _): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    let denied = || ApiError::unauthorized("invalid_credentials", "wrong email or password");
    let email = validate::email(&body.email).map_err(|_| denied())?;
    let device_name = match &body.device_name {
        Some(n) => validate::short_text(n, 64, "device_name")?,
        None => "device".to_owned(),
    };
    if body.password.len() > 1024 {
        return Err(denied());
    }
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT id, password_hash FROM accounts WHERE email = $1")
            .bind(&email)
            .fetch_optional(st.store.r())
            .await?;
    // Unknown emails still pay for one verification so timing does not reveal them.
    let (id, hash) = match row {
        Some(r) => r,
        None => {
            password::verify_dummy(body.password).await?;
            return Err(denied());
        }
    };
    if !password::verify(body.password, hash).await? {
        return Err(denied());
    }
    let device = new_id();
    let now = now_ms();
    let mut tx = st.store.w().begin().await?;
    sqlx::query("INSERT INTO devices (id, account_id, name, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $4)")
        .bind(&device)
        .bind(&id)
        .bind(&device_name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let issued = tokens::issue(&mut tx, &st, &id, &device).await?;
    tx.commit().await?;
    Ok(created(session_json(&id, &device, &issued)))
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

async fn refresh(
    State(st): State<AppState>,
    ApiJson(body, _): ApiJson<RefreshBody>,
) -> ApiResult<Response> {
    let invalid =
        || ApiError::unauthorized("invalid_token", "the refresh token is invalid or expired");
    if body.refresh_token.len() > 200 {
        return Err(invalid());
    }
    let hash = tokens::hash_token(&body.refresh_token);
    let mut tx = st.store.w().begin().await?;
    let row: Option<(String, String, i64)> = sqlx::query_as(
        "DELETE FROM tokens WHERE hash = $1 AND kind = 'refresh' RETURNING account_id, device_id, expires_at",
    )
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?;
    let (account, device, expires_at) = row.ok_or_else(invalid)?;
    if expires_at <= now_ms() {
        tx.commit().await?;
        return Err(invalid());
    }
    sqlx::query("UPDATE devices SET last_seen_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(&device)
        .execute(&mut *tx)
        .await?;
    let issued = tokens::issue(&mut tx, &st, &account, &device).await?;
    tx.commit().await?;
    Ok(ok(session_json(&account, &device, &issued)))
}

async fn delete_device(st: &AppState, account: &str, device: &str) -> ApiResult<bool> {
    let res = sqlx::query("DELETE FROM devices WHERE id = $1 AND account_id = $2")
        .bind(device)
        .bind(account)
        .execute(st.store.w())
        .await?;
    st.tokens.evict_device(device);
    Ok(res.rows_affected() > 0)
}

async fn logout(State(st): State<AppState>, auth: Auth) -> ApiResult<Response> {
    delete_device(&st, &auth.account, &auth.device).await?;
    Ok(no_content())
}

async fn list_devices(State(st): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT id, name, created_at, last_seen_at FROM devices WHERE account_id = $1 ORDER BY id",
    )
    .bind(&auth.account)
    .fetch_all(st.store.r())
    .await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|(id, name, c, l)| {
            json!({"device_id": id, "name": name, "created_at": c, "last_seen_at": l,
                "current": *id == auth.device})
        })
        .collect();
    Ok(ok(json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceBody {
    name: String,
}

async fn rename_device(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath(device): ApiPath<uuid::Uuid>,
    ApiJson(body, _): ApiJson<DeviceBody>,
) -> ApiResult<Response> {
    let name = validate::short_text(&body.name, 64, "name")?;
    let res = sqlx::query("UPDATE devices SET name = $1 WHERE id = $2 AND account_id = $3")
        .bind(&name)
        .bind(device.to_string())
        .bind(&auth.account)
        .execute(st.store.w())
        .await?;
    if res.rows_affected() == 0 {
        return Err(ApiError::not_found());
    }
    Ok(ok(json!({"device_id": device, "name": name})))
}

async fn revoke_device(
    State(st): State<AppState>,
    auth: Auth,
    ApiPath(device): ApiPath<uuid::Uuid>,
) -> ApiResult<Response> {
    if !delete_device(&st, &auth.account, &device.to_string()).await? {
        return Err(ApiError::not_found());
    }
    Ok(no_content())
}

/// The profile JSON of `account`.
pub async fn profile(st: &AppState, account: &str) -> ApiResult<Value> {
    let row: Option<(String, String, Option<String>, i64, i64)> = sqlx::query_as(
        "SELECT email, display_name, avatar_photo_id, email_verified, discoverable FROM accounts WHERE id = $1",
    )
    .bind(account)
    .fetch_optional(st.store.r())
    .await?;
    let (email, name, avatar, verified, discoverable) = row.ok_or_else(ApiError::not_found)?;
    Ok(
        json!({"account_id": account, "email": email, "display_name": name, "avatar_photo_id": avatar,
        "email_verified": verified != 0, "discoverable": discoverable != 0}),
    )
}

async fn get_me(State(st): State<AppState>, auth: Auth) -> ApiResult<Response> {
    Ok(ok(profile(&st, &auth.account).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MeBody {
    display_name: Option<String>,
    #[serde(default, with = "validate::double_option")]
    avatar_photo_id: Option<Option<uuid::Uuid>>,
    discoverable: Option<bool>,
}

async fn update_me(
    State(st): State<AppState>,
    auth: Auth,
    ApiJson(body, _): ApiJson<MeBody>,
) -> ApiResult<Response> {
    let mut tx = st.store.w().begin().await?;
    if let Some(n) = &body.display_name {
        let n = validate::display_name(n)?;
        sqlx::query("UPDATE accounts SET display_name = $1 WHERE id = $2")
            .bind(n)
            .bind(&auth.account)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(avatar) = body.avatar_photo_id {
        if let Some(photo) = avatar {
            let owned: Option<(String,)> =
                sqlx::query_as("SELECT id FROM photos WHERE id = $1 AND owner_id = $2")
                    .bind(photo.to_string())
                    .bind(&auth.account)
                    .fetch_optional(&mut *tx)
                    .await?;
            if owned.is_none() {
                return Err(ApiError::invalid(
                    "unknown_photo",
                    "avatar_photo_id must be one of your photos",
                ));
            }
        }
        sqlx::query("UPDATE accounts SET avatar_photo_id = $1 WHERE id = $2")
            .bind(avatar.map(|p| p.to_string()))
            .bind(&auth.account)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(d) = body.discoverable {
        sqlx::query("UPDATE accounts SET discoverable = $1 WHERE id = $2")
            .bind(i64::from(d))
            .bind(&auth.account)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(ok(profile(&st, &auth.account).await?))
}
