//! Contact matching in the style of Matrix MSC2134: clients upload
//! `sha256("<medium> <address> <pepper>")`, URL-safe unpadded base64; the server answers
//! only the hashes that match a discoverable, verified account. The pepper is published,
//! rotatable by the operator (every stored hash is recomputed), batches are capped and
//! lookups are rate-limited per account.
//!
//! Owns: the `contact_peppers` table and `accounts.email_hash`. Must never: answer a hash
//! that does not match, reveal an account that opted out or has not verified its email,
//! or accept hashes made with a stale pepper (that error carries the current pepper).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::State;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::api::{self, ok, ApiRoute};
use crate::error::{ApiError, ApiResult};
use crate::extract::{bearer, ApiJson, Auth};
use crate::store::{new_id, now_ms, Store};
use crate::AppState;

/// `sha256("email <address> <pepper>")`, URL-safe unpadded base64.
pub fn email_hash(email: &str, pepper: &str) -> String {
    lookup_hash("email", email, pepper)
}

/// `sha256("<medium> <address> <pepper>")`, URL-safe unpadded base64.
pub fn lookup_hash(medium: &str, address: &str, pepper: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(
        format!("{medium} {address} {pepper}").as_bytes(),
    ))
}

fn new_pepper() -> String {
    let mut raw = [0u8; 18];
    rand::thread_rng().fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The current pepper, creating the first one if there is none.
pub async fn current_pepper(store: &Store) -> ApiResult<String> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT pepper FROM contact_peppers ORDER BY id DESC LIMIT 1")
            .fetch_optional(store.w())
            .await?;
    match row {
        Some((p,)) => Ok(p),
        None => rotate(store).await,
    }
}

/// Installs a new pepper and recomputes every account's email hash; returns the pepper.
pub async fn rotate(store: &Store) -> ApiResult<String> {
    let pepper = new_pepper();
    let mut tx = store.w().begin().await?;
    sqlx::query("INSERT INTO contact_peppers (id, pepper, created_at) VALUES ($1, $2, $3)")
        .bind(new_id())
        .bind(&pepper)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    let accounts: Vec<(String, String)> = sqlx::query_as("SELECT id, email FROM accounts")
        .fetch_all(&mut *tx)
        .await?;
    for (id, email) in accounts {
        sqlx::query("UPDATE accounts SET email_hash = $1 WHERE id = $2")
            .bind(email_hash(&email, &pepper))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(pepper)
}

/// Per-account fixed-window rate limiter (one-minute windows).
#[derive(Default, Debug)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    /// Counts one use by `key`; false when over `per_minute` in the current minute.
    pub fn allow(&self, key: &str, per_minute: u32, now_ms: i64) -> bool {
        let minute = now_ms / 60_000;
        let Ok(mut map) = self.windows.lock() else {
            return false;
        };
        if map.len() > 100_000 {
            map.retain(|_, (m, _)| *m == minute);
        }
        let slot = map.entry(key.to_owned()).or_insert((minute, 0));
        if slot.0 != minute {
            *slot = (minute, 0);
        }
        if slot.1 >= per_minute {
            return false;
        }
        slot.1 += 1;
        true
    }
}

/// The routes of this resource.
pub fn routes() -> Vec<ApiRoute> {
    let tag = "contacts";
    vec![
        api::get("/v1/contacts/pepper", get_pepper)
            .doc(tag, "The current pepper and hash algorithm")
            .returns(json!({"type": "object", "properties": {"pepper": {"type": "string"}, "algorithms": {"type": "array"}}})),
        api::post("/v1/contacts/match", match_hashes)
            .doc(tag, "Upload hashes of contacts' addresses; answers only the matches")
            .json(json!({"type": "object", "required": ["pepper", "hashes"], "properties": {
                "pepper": {"type": "string"}, "algorithm": {"enum": ["sha256"]},
                "hashes": {"type": "array", "items": {"type": "string"}}}})),
        api::post("/v1/admin/contacts/pepper/rotate", rotate_pepper)
            .doc(tag, "Rotate the pepper (operator token)")
            .public(),
    ]
}

/// Router for this resource.
pub fn router(cfg: &crate::config::Config) -> axum::Router<AppState> {
    api::router(routes(), cfg)
}

async fn get_pepper(State(st): State<AppState>, _auth: Auth) -> ApiResult<Response> {
    let pepper = current_pepper(&st.store).await?;
    Ok(ok(json!({"pepper": pepper, "algorithms": ["sha256"],
        "lookup_format": "sha256(\"<medium> <address> <pepper>\"), URL-safe unpadded base64"})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchBody {
    pepper: String,
    algorithm: Option<String>,
    hashes: Vec<String>,
}

async fn match_hashes(
    State(st): State<AppState>,
    auth: Auth,
    ApiJson(body, _): ApiJson<MatchBody>,
) -> ApiResult<Response> {
    if body.algorithm.as_deref().is_some_and(|a| a != "sha256") {
        return Err(ApiError::invalid(
            "unsupported_algorithm",
            "only sha256 is supported",
        ));
    }
    if body.hashes.len() > st.config.contacts_max_batch {
        return Err(ApiError::invalid(
            "batch_too_large",
            format!("at most {} hashes per lookup", st.config.contacts_max_batch),
        )
        .with("max_batch", json!(st.config.contacts_max_batch)));
    }
    let pepper = current_pepper(&st.store).await?;
    if body.pepper != pepper {
        return Err(ApiError::bad_request(
            "invalid_pepper",
            "the pepper has changed; rehash with the current one",
        )
        .with("pepper", json!(pepper)));
    }
    if !st.rate.allow(
        &format!("contacts:{}", auth.account),
        st.config.contacts_per_minute,
        now_ms(),
    ) {
        return Err(ApiError::rate_limited(
            "too many contact lookups; retry in a minute",
        ));
    }
    // Only well-formed hashes are looked up: 32 bytes of URL-safe unpadded base64.
    let wanted: Vec<&String> = body
        .hashes
        .iter()
        .filter(|h| {
            h.len() == 43
                && URL_SAFE_NO_PAD
                    .decode(h.as_bytes())
                    .is_ok_and(|b| b.len() == 32)
        })
        .collect();
    let mut matches: Vec<Value> = Vec::new();
    for chunk in wanted.chunks(100) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 1)).collect();
        let sql = format!(
            "SELECT id, display_name, email_hash FROM accounts WHERE email_verified = 1 AND discoverable = 1 \
             AND email_hash IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query_as::<_, (String, String, String)>(&sql);
        for h in chunk {
            q = q.bind(h.as_str());
        }
        for (id, name, hash) in q.fetch_all(st.store.r()).await? {
            if id != auth.account {
                matches.push(json!({"hash": hash, "account_id": id, "display_name": name}));
            }
        }
    }
    Ok(ok(json!({"matches": matches})))
}

async fn rotate_pepper(
    State(st): State<AppState>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let Some(admin) = st.config.admin_token.as_deref() else {
        return Err(ApiError::not_found());
    };
    let given = bearer(&headers).unwrap_or("");
    // Compare hashes so the comparison time does not depend on the secret's prefix.
    if Sha256::digest(given.as_bytes()) != Sha256::digest(admin.as_bytes()) {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "operator token required",
        ));
    }
    let pepper = rotate(&st.store).await?;
    Ok(ok(json!({"pepper": pepper})))
}
