//! Access and refresh tokens: random 256-bit secrets given to the client once, stored only
//! as sha256 hashes, expiring and revocable per device; plus a short-lived in-memory cache
//! of access-token lookups so the request path rarely touches the database.
//!
//! Owns: the `tokens` table and the cache. Must never: store or log a token in clear, or
//! keep honouring a token this node revoked (revocation evicts the cache; other nodes
//! honour a revoked token for at most `CACHE_TTL`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::error::{ApiError, ApiResult};
use crate::extract::Auth;
use crate::store::now_ms;
use crate::AppState;

/// How long a cached access-token lookup is trusted.
pub const CACHE_TTL: Duration = Duration::from_secs(10);
const CACHE_MAX: usize = 100_000;

#[derive(Clone)]
struct Cached {
    account: String,
    device: String,
    expires_at: i64,
    cached_at: Instant,
}

/// Cache of access-token hash → (account, device, expiry).
#[derive(Default)]
pub struct TokenCache {
    map: Mutex<HashMap<String, Cached>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCache")
    }
}

impl TokenCache {
    fn get(&self, hash: &str, now: i64) -> Option<Auth> {
        let map = self.map.lock().ok()?;
        let c = map.get(hash)?;
        (c.cached_at.elapsed() < CACHE_TTL && c.expires_at > now).then(|| Auth {
            account: c.account.clone(),
            device: c.device.clone(),
        })
    }

    fn put(&self, hash: String, auth: &Auth, expires_at: i64) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(
                hash,
                Cached {
                    account: auth.account.clone(),
                    device: auth.device.clone(),
                    expires_at,
                    cached_at: Instant::now(),
                },
            );
        }
    }

    /// Forgets every cached token of `device`.
    pub fn evict_device(&self, device: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, c| c.device != device);
        }
    }

    /// Forgets every cached token of `account`.
    pub fn evict_account(&self, account: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, c| c.account != account);
        }
    }
}

/// sha256 of a token, hex.
pub fn hash_token(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_secret(prefix: &str) -> String {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(raw))
}

/// A freshly issued token pair (shown to the client once).
#[derive(Debug)]
pub struct Issued {
    /// Bearer access token.
    pub access: String,
    /// Refresh token.
    pub refresh: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
}

/// Issues an access + refresh pair for `device`.
pub async fn issue(
    conn: &mut AnyConnection,
    state: &AppState,
    account: &str,
    device: &str,
) -> ApiResult<Issued> {
    let now = now_ms();
    let access = new_secret("tka_");
    let refresh = new_secret("tkr_");
    let cfg = &state.config;
    for (tok, kind, ttl) in [
        (&access, "access", cfg.access_ttl_s),
        (&refresh, "refresh", cfg.refresh_ttl_s),
    ] {
        sqlx::query(
            "INSERT INTO tokens (hash, kind, account_id, device_id, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash_token(tok))
        .bind(kind)
        .bind(account)
        .bind(device)
        .bind(now.saturating_add(ttl.saturating_mul(1000)))
        .execute(&mut *conn)
        .await?;
    }
    Ok(Issued {
        access,
        refresh,
        expires_in: cfg.access_ttl_s,
    })
}

/// Resolves a bearer access token to its account and device.
pub async fn authenticate(state: &AppState, token: &str) -> ApiResult<Auth> {
    let invalid =
        || ApiError::unauthorized("invalid_token", "the access token is invalid or expired");
    if token.len() > 200 {
        return Err(invalid());
    }
    let hash = hash_token(token);
    let now = now_ms();
    if let Some(a) = state.tokens.get(&hash, now) {
        return Ok(a);
    }
    let row: Option<(String, String, i64)> = sqlx::query_as(
        "SELECT account_id, device_id, expires_at FROM tokens WHERE hash = $1 AND kind = 'access'",
    )
    .bind(&hash)
    .fetch_optional(state.store.r())
    .await?;
    let (account, device, expires_at) = row.ok_or_else(invalid)?;
    if expires_at <= now {
        return Err(invalid());
    }
    let auth = Auth { account, device };
    state.tokens.put(hash, &auth, expires_at);
    Ok(auth)
}
