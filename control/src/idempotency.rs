//! `Idempotency-Key` for creating POSTs: the first response to (account, key, route) is
//! stored in the same transaction as the thing it created; a retry with the same body gets
//! that response replayed; the same key with a different body is a 422.
//!
//! Owns: the `idempotency` table. Must never: store a response that carries a secret
//! (token-issuing routes do not take part), or record a failed request.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::cache::Touch;
use crate::error::{is_unique_violation, ApiError, ApiResult};
use crate::notifications::{self, Written};
use crate::store::{now_ms, Store};
use crate::AppState;

/// The header.
pub const HEADER: &str = "idempotency-key";

/// The key (if the client sent one) and the route it applies to.
#[derive(Debug, Clone)]
pub struct Idem {
    key: Option<String>,
    route: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Idem {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let route = format!("{} {}", parts.method, parts.uri.path());
        let key = match parts.headers.get(HEADER) {
            None => None,
            Some(v) => {
                let s = v.to_str().ok().map(str::trim).filter(|s| {
                    !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic())
                });
                Some(
                    s.ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid_idempotency_key",
                            "Idempotency-Key must be 1-255 visible ASCII characters",
                        )
                    })?
                    .to_owned(),
                )
            }
        };
        Ok(Idem { key, route })
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl Idem {
    /// True when the client sent a key.
    pub fn is_set(&self) -> bool {
        self.key.is_some()
    }

    /// `(key, route, fingerprint)` to record for a request body, if a key was sent.
    pub fn parts(&self, body: &[u8; 32]) -> Option<(String, String, String)> {
        let key = self.key.clone()?;
        Some((key, self.route.clone(), self.fingerprint(body)))
    }

    fn fingerprint(&self, body: &[u8; 32]) -> String {
        let mut h = Sha256::new();
        h.update(self.route.as_bytes());
        h.update(body);
        hex(&h.finalize())
    }

    /// Looks up an earlier response to the same key: `Some(response)` to replay it, an
    /// error if the key was used with a different body, `None` to go ahead.
    pub async fn replay(
        &self,
        store: &Store,
        account: &str,
        body: &[u8; 32],
    ) -> ApiResult<Option<Response>> {
        let Some(key) = &self.key else {
            return Ok(None);
        };
        let row: Option<(String, i64, String)> = sqlx::query_as(
            "SELECT fingerprint, status, body FROM idempotency \
             WHERE account_id = $1 AND idem_key = $2 AND route = $3",
        )
        .bind(account)
        .bind(key)
        .bind(&self.route)
        .fetch_optional(store.r())
        .await?;
        let Some((fp, status, stored)) = row else {
            return Ok(None);
        };
        if fp != self.fingerprint(body) {
            return Err(ApiError::invalid(
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request",
            ));
        }
        let status = u16::try_from(status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::OK);
        let mut resp = (status, stored).into_response();
        resp.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp.headers_mut().insert(
            HeaderName::from_static("idempotent-replayed"),
            HeaderValue::from_static("true"),
        );
        Ok(Some(resp))
    }

    /// Records the response inside the transaction that created the resource. A
    /// concurrent request with the same key that committed first makes this a 409.
    pub async fn record(
        &self,
        conn: &mut AnyConnection,
        account: &str,
        body: &[u8; 32],
        status: StatusCode,
        response: &serde_json::Value,
    ) -> ApiResult<()> {
        let Some(key) = &self.key else { return Ok(()) };
        let res = sqlx::query(
            "INSERT INTO idempotency (account_id, idem_key, route, fingerprint, status, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(account)
        .bind(key)
        .bind(&self.route)
        .bind(self.fingerprint(body))
        .bind(i64::from(status.as_u16()))
        .bind(response.to_string())
        .bind(now_ms())
        .execute(conn)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(ApiError::conflict(
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is being processed; retry",
            )),
            Err(e) => Err(e.into()),
        }
    }
}

impl Idem {
    /// Finishes a creating request: records the response under the key (if any) in `tx`,
    /// commits, publishes the notifications and answers 201. If the key was already
    /// recorded (a retry, or a concurrent twin that committed first), the transaction is
    /// rolled back and the stored response is replayed instead — or 422 when it was for a
    /// different body. The happy path thus costs no extra read.
    pub async fn commit(
        &self,
        st: &AppState,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        account: &str,
        fingerprint: &[u8; 32],
        outcome: Outcome<'_>,
    ) -> ApiResult<Response> {
        let Outcome {
            body: out,
            notify: written,
            touch,
        } = outcome;
        match self
            .record(&mut tx, account, fingerprint, StatusCode::CREATED, &out)
            .await
        {
            Ok(()) => {
                tx.commit().await?;
                st.caches.touch(touch);
                notifications::publish(st, written);
                Ok(crate::api::created(out))
            }
            Err(e) if e.code() == "idempotency_key_in_use" => {
                tx.rollback().await?;
                match self.replay(&st.store, account, fingerprint).await? {
                    Some(r) => Ok(r),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}

/// What a creating request produced: the 201 body, the notifications to publish after
/// commit and the cached state it changed.
#[derive(Debug)]
pub struct Outcome<'a> {
    /// The response body.
    pub body: serde_json::Value,
    /// Notifications written in the transaction.
    pub notify: Vec<Written>,
    /// What to invalidate after commit.
    pub touch: Touch<'a>,
}

/// Account id used for routes that take part before authentication (registration).
pub const ANONYMOUS: &str = "anonymous";
