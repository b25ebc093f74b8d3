//! Serving a blob over HTTP: type, `nosniff`, ETag, conditional GET and byte ranges.
//!
//! Supports one range per request (`bytes=a-b`, `bytes=a-`, `bytes=-n`); a request
//! for several ranges, or a malformed `Range`, gets the whole blob (RFC 9110 §14.2
//! lets a server ignore `Range`). The caller has already checked that the requester
//! may see the blob; this module never looks at who is asking.

use std::io::SeekFrom;
use std::path::Path;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Read size when streaming a blob.
const CHUNK: usize = 64 * 1024;

/// Blobs are immutable, so they may be cached for as long as a client likes; they are
/// private because only group members may see them.
const CACHE_CONTROL: &str = "private, max-age=31536000, immutable";

/// What a `Range` header asks for, given the blob's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeRequest {
    /// No (usable) range: send everything with 200.
    Full,
    /// Inclusive byte range `first..=last`, already clamped to the blob.
    Partial { first: u64, last: u64 },
    /// A syntactically valid range that selects nothing: 416.
    Unsatisfiable,
}

fn parse_range(value: &str, len: u64) -> RangeRequest {
    let value = value.trim();
    let Some((unit, spec)) = value.split_once('=') else {
        return RangeRequest::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // `-n`: the last n bytes.
        (true, false) => match number(last) {
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if len == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Partial {
                first: len.saturating_sub(n),
                last: len - 1,
            },
            None => RangeRequest::Full,
        },
        // `a-`: from a to the end.
        (false, true) => match number(first) {
            Some(a) if a >= len => RangeRequest::Unsatisfiable,
            Some(a) => RangeRequest::Partial {
                first: a,
                last: len - 1,
            },
            None => RangeRequest::Full,
        },
        // `a-b`.
        (false, false) => match (number(first), number(last)) {
            (Some(a), Some(b)) if a > b => RangeRequest::Full,
            (Some(a), Some(_)) if a >= len => RangeRequest::Unsatisfiable,
            (Some(a), Some(b)) => RangeRequest::Partial {
                first: a,
                last: b.min(len - 1),
            },
            _ => RangeRequest::Full,
        },
        (true, true) => RangeRequest::Full,
    }
}

/// Whether an `If-None-Match` list matches `etag` (weak comparison, RFC 9110 §13.1.2).
fn none_match(value: &str, etag: &str) -> bool {
    value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// Serves the blob at `blob_path` (a [`super::BlobStore`] path: its file name is the
/// hash, which becomes the `ETag`) as `mime`, honouring `If-None-Match`, `Range` and
/// `If-Range` from `request_headers`.
pub async fn serve(blob_path: &Path, mime: &str, request_headers: &HeaderMap) -> Response {
    let Some(hash) = blob_path.file_name().and_then(|n| n.to_str()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{hash}\"");
    let Ok(etag_value) = HeaderValue::from_str(&etag) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(content_type) = HeaderValue::from_str(mime) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };

    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag_value);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );

    let if_none_match = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let mut file = match tokio::fs::File::open(blob_path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return StatusCode::NOT_FOUND.into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, path = %blob_path.display(), "opening blob");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if if_none_match.is_some_and(|v| none_match(v, &etag)) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let len = match file.metadata().await {
        Ok(meta) => meta.len(),
        Err(e) => {
            tracing::error!(error = %e, path = %blob_path.display(), "reading blob metadata");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };

    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // `If-Range` with anything but our (strong) ETag means "the whole thing".
    let if_range_ok = request_headers
        .get(header::IF_RANGE)
        .is_none_or(|v| v.to_str().is_ok_and(|v| v.trim() == etag));
    let range = match request_headers.get(header::RANGE) {
        Some(v) if if_range_ok => v
            .to_str()
            .map_or(RangeRequest::Full, |v| parse_range(v, len)),
        _ => RangeRequest::Full,
    };

    let (status, first, count) = match range {
        RangeRequest::Full => (StatusCode::OK, 0, len),
        RangeRequest::Partial { first, last } => {
            let content_range = format!("bytes {first}-{last}/{len}");
            if let Ok(v) = HeaderValue::from_str(&content_range) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::PARTIAL_CONTENT, first, last - first + 1)
        }
        RangeRequest::Unsatisfiable => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            return (StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response();
        }
    };

    if first > 0 {
        if let Err(e) = file.seek(SeekFrom::Start(first)).await {
            tracing::error!(error = %e, path = %blob_path.display(), "seeking blob");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    (status, headers, Body::from_stream(stream_file(file, count))).into_response()
}

/// The next `remaining` bytes of `file`, in chunks of at most [`CHUNK`].
fn stream_file(
    file: tokio::fs::File,
    remaining: u64,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::try_unfold((file, remaining), |(mut file, remaining)| async move {
        if remaining == 0 {
            return Ok(None);
        }
        let want = usize::try_from(remaining).map_or(CHUNK, |r| r.min(CHUNK));
        let mut buf = vec![0u8; want];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "blob shorter than its length",
            ));
        }
        buf.truncate(n);
        let left = remaining.saturating_sub(n as u64);
        Ok(Some((Bytes::from(buf), (file, left))))
    })
}

#[cfg(test)]
mod tests {
    use super::{none_match, parse_range, RangeRequest};

    #[test]
    fn parses_each_single_range_form() {
        assert_eq!(
            parse_range("bytes=0-9", 100),
            RangeRequest::Partial { first: 0, last: 9 }
        );
        assert_eq!(
            parse_range("bytes=90-", 100),
            RangeRequest::Partial {
                first: 90,
                last: 99
            }
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            RangeRequest::Partial {
                first: 90,
                last: 99
            }
        );
        assert_eq!(
            parse_range("bytes=-500", 100),
            RangeRequest::Partial { first: 0, last: 99 }
        );
        assert_eq!(
            parse_range("bytes=50-500", 100),
            RangeRequest::Partial {
                first: 50,
                last: 99
            }
        );
    }

    #[test]
    fn unsatisfiable_and_ignored_ranges() {
        assert_eq!(parse_range("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(
            parse_range("bytes=200-300", 100),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(parse_range("bytes=-0", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=9-3", 100), RangeRequest::Full);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeRequest::Full);
        assert_eq!(parse_range("items=0-1", 100), RangeRequest::Full);
        assert_eq!(parse_range("bytes=a-b", 100), RangeRequest::Full);
        assert_eq!(parse_range("bytes=+1-2", 100), RangeRequest::Full);
        assert_eq!(parse_range("bytes=-", 100), RangeRequest::Full);
        assert_eq!(
            parse_range("bytes=99999999999999999999999-", 100),
            RangeRequest::Full
        );
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        assert!(none_match("\"abc\"", "\"abc\""));
        assert!(none_match("W/\"abc\"", "\"abc\""));
        assert!(none_match("\"x\", \"abc\"", "\"abc\""));
        assert!(none_match("*", "\"abc\""));
        assert!(!none_match("\"abcd\"", "\"abc\""));
    }
}
