//! Request extractors whose every rejection is an `ApiError` problem document: JSON bodies
//! (with a fingerprint for idempotency), path ids, query strings, bearer authentication and
//! cursor pagination.
//!
//! Owns: turning raw request parts into typed, validated values. Must never: let an axum
//! plain-text rejection reach a client, or reveal whether a malformed id exists.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::AppState;

/// A JSON body plus the sha256 of its raw bytes (the idempotency fingerprint).
pub struct ApiJson<T>(pub T, pub [u8; 32]);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Maps a body-read failure: too large → 413, anything else → 400.
pub fn body_error(status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large()
    } else {
        ApiError::bad_request("unreadable_body", "the request body could not be read")
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| body_error(e.status()))?;
        let value = Json::<T>::from_bytes(&bytes).map_err(json_rejection)?;
        Ok(ApiJson(value.0, Sha256::digest(&bytes).into()))
    }
}

fn json_rejection(e: JsonRejection) -> ApiError {
    match e {
        JsonRejection::JsonDataError(e) => {
            // serde's message names the field and the expected type; it holds no secrets.
            ApiError::invalid("invalid_field", e.body_text())
        }
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::bad_request("malformed_json", "the body is not valid JSON")
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        ),
        other => body_error(other.status()),
    }
}

/// Path parameters; anything that does not parse (e.g. a malformed id) is a 404.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|_| ApiError::not_found())
    }
}

/// Query parameters; a malformed query string is a 400 problem.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
    }
}

/// The authenticated caller: an account and the device its token belongs to.
#[derive(Clone, Debug)]
pub struct Auth {
    /// Account id.
    pub account: String,
    /// Device id.
    pub device: String,
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(a) = parts.extensions.get::<Auth>() {
            return Ok(a.clone());
        }
        let token = bearer(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized("missing_token", "a bearer access token is required")
        })?;
        let auth = crate::accounts::tokens::authenticate(state, token).await?;
        parts.extensions.insert(auth.clone());
        Ok(auth)
    }
}

/// Default and maximum page sizes.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest `limit` honoured.
pub const MAX_LIMIT: u32 = 200;

/// `?limit=&cursor=` for paginated lists.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// Page size (capped at `MAX_LIMIT`).
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A validated page request: the decoded cursor key and the limit.
#[derive(Debug)]
pub struct Page {
    /// Rows strictly after (in list order) this key.
    pub after: Option<String>,
    /// Page size, 1..=MAX_LIMIT.
    pub limit: u32,
}

impl PageQuery {
    /// Validates the limit and decodes the cursor.
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let after = match &self.cursor {
            None => None,
            Some(c) if c.is_empty() => None,
            Some(c) => Some(decode_cursor(c)?),
        };
        Ok(Page { after, limit })
    }
}

/// Encodes a row key as an opaque cursor.
pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("c1:{key}"))
}

/// Decodes an opaque cursor; anything we did not issue is a 400.
pub fn decode_cursor(c: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad_request("invalid_cursor", "the cursor is not valid");
    if c.len() > 200 {
        return Err(bad());
    }
    let raw = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let key = text.strip_prefix("c1:").ok_or_else(bad)?;
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(bad());
    }
    Ok(key.to_owned())
}

/// Builds `{ "items": [...], "next_cursor": ... }` from `limit + 1` fetched rows.
pub fn page_json<T>(
    mut rows: Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> String,
    render: impl Fn(&T) -> serde_json::Value,
) -> serde_json::Value {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|r| encode_cursor(&key(r)))
    } else {
        None
    };
    serde_json::json!({
        "items": rows.iter().map(render).collect::<Vec<_>>(),
        "next_cursor": next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_forgeries() {
        let id = "0190f7a2-1c2b-7d3e-8f00-123456789abc";
        assert_eq!(decode_cursor(&encode_cursor(id)).unwrap(), id);
        assert!(decode_cursor("not base64 !").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("c1:' OR 1=1 --")).is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("x:abc")).is_err());
    }

    #[test]
    fn limit_is_capped() {
        let q = PageQuery {
            limit: Some(10_000),
            cursor: None,
        };
        assert_eq!(q.page().unwrap().limit, MAX_LIMIT);
        let q = PageQuery {
            limit: Some(0),
            cursor: None,
        };
        assert_eq!(q.page().unwrap().limit, 1);
    }
}
