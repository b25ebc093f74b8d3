//! The content-addressed blob store on a real directory, and serving blobs over a real
//! axum router: type, nosniff, ETag / If-None-Match, ranges.

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use talko_control::photos::{serve, BlobError, BlobStore, Hash};
use tower::ServiceExt;

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("talko-photos-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn count_files(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("dir entry");
        if entry.file_type().expect("file type").is_dir() {
            n += count_files(&entry.path());
        } else {
            n += 1;
        }
    }
    n
}

#[test]
fn identical_blobs_are_stored_once_under_their_hash() {
    let dir = TempDir::new();
    let store = BlobStore::open(&dir.0).expect("open store");
    let a = store.put(b"hello photo").expect("put");
    let b = store.put(b"hello photo").expect("put again");
    let c = store.put(b"another photo").expect("put other");
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(
        count_files(store.root()),
        2,
        "two distinct blobs, no temp files left"
    );

    let hex = a.to_hex();
    // sha256("hello photo"), from coreutils' sha256sum.
    assert_eq!(
        hex,
        "24fa067d3326fc8c57449147740741942ba18448beb2537554aaf97dc04ab979"
    );
    assert_eq!(
        store.path(&a),
        dir.0
            .join("blobs")
            .join(&hex[0..2])
            .join(&hex[2..4])
            .join(&hex)
    );
    assert_eq!(
        std::fs::read(store.path(&a)).expect("read blob"),
        b"hello photo"
    );
    assert_eq!(Hash::of(b"hello photo"), a);
    assert!(store.contains(&a));
    let mut file = store.open_blob(&c).expect("open blob");
    let mut back = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut back).expect("read");
    assert_eq!(back, b"another photo");
}

#[test]
fn hash_strings_that_could_escape_the_store_are_rejected() {
    let good = Hash::of(b"x").to_hex();
    assert_eq!(good.parse::<Hash>().map(|h| h.to_hex()), Ok(good.clone()));
    let hostile = [
        String::new(),
        "../../../../etc/passwd".to_owned(),
        format!("../{}", &good[3..]),
        format!("{}/..", &good[..61]),
        good.to_uppercase(),
        good[..63].to_owned(),
        format!("{good}0"),
        format!("{}%2e", &good[..61]),
        format!("{}\0", &good[..63]),
        "g".repeat(64),
        "é".repeat(32),
    ];
    for s in hostile {
        assert_eq!(s.parse::<Hash>(), Err(BlobError::InvalidHash), "{s:?}");
    }
}

#[test]
fn opening_the_store_removes_stale_temporary_files_only() {
    let dir = TempDir::new();
    let store = BlobStore::open(&dir.0).expect("open store");
    let tmp = store.root().join("tmp");
    let stale = tmp.join("crashed-write");
    let fresh = tmp.join("write-in-progress");
    std::fs::write(&stale, b"half a blob").expect("write");
    std::fs::write(&fresh, b"half a blob").expect("write");
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .and_then(|f| f.set_modified(two_hours_ago))
        .expect("backdate");
    let _again = BlobStore::open(&dir.0).expect("reopen store");
    assert!(!stale.exists());
    assert!(fresh.exists());
}

#[tokio::test]
async fn put_async_stores_from_the_blocking_pool() {
    let dir = TempDir::new();
    let store = BlobStore::open(&dir.0).expect("open store");
    let hash = store.put_async(vec![7u8; 100_000]).await.expect("put");
    assert_eq!(
        std::fs::metadata(store.path(&hash)).expect("stat").len(),
        100_000
    );
}

// ---------------------------------------------------------------- serving

#[derive(Clone)]
struct AppState {
    store: BlobStore,
}

async fn blob(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(hash) = hash.parse::<Hash>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    serve(&state.store.path(&hash), "image/jpeg", &headers).await
}

fn app(store: BlobStore) -> Router {
    Router::new()
        .route("/blobs/{hash}", get(blob))
        .with_state(AppState { store })
}

async fn request(
    app: &Router,
    uri: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut builder = Request::get(uri);
    for (name, value) in headers {
        builder = builder.header(name, *value);
    }
    let response = app
        .clone()
        .oneshot(builder.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn h(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn whole_blob_is_served_with_type_nosniff_length_and_etag() {
    let dir = TempDir::new();
    let store = BlobStore::open(&dir.0).expect("open store");
    let bytes = content(200_000);
    let hash = store.put(&bytes).expect("put");
    let app = app(store);
    let (status, headers, body) = request(&app, &format!("/blobs/{hash}"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, bytes);
    assert_eq!(h(&headers, header::CONTENT_TYPE), "image/jpeg");
    assert_eq!(h(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(h(&headers, header::CONTENT_LENGTH), "200000");
    assert_eq!(h(&headers, header::ACCEPT_RANGES), "bytes");
    assert_eq!(h(&headers, header::ETAG), format!("\"{hash}\""));
    let cache = h(&headers, header::CACHE_CONTROL);
    assert!(
        cache.contains("private") && cache.contains("immutable"),
        "{cache}"
    );
}

#[tokio::test]
async fn single_ranges_get_206_with_content_range() {
    let dir = TempDir::new();
    let store = BlobStore::open(&dir.0).expect("open store");
    let bytes = content(1000);
    let hash = store.put(&bytes).expect("put");
    let app = app(store);
    let uri = format!("/blobs/{hash}");
    let cases = [
        ("bytes=0-9", 0, 9),
        ("bytes=990-", 990, 999),
        ("bytes=-100", 900, 999),
        ("bytes=500-5000", 500, 999),
        ("bytes=-5000", 0, 999),
    ];
    for (range, first, last) in cases {
        let (status, headers, body) = request(&app, &uri, &[(header::RANGE, range)]).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(body, bytes[first..=last], "{range}");
        assert_eq!(
            h(&headers, header::CONTENT_RANGE),
            format!("bytes {first}-{last}/1000")
        );
        assert_eq!(
            h(&headers, header::CONTENT_LENGTH),
            (last - first + 1).to_string()
        );
        assert_eq!(h(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    }
}

#[tokio::test]
async fn unsatisfiable_range_gets_416_and_odd_ranges_get_everything() {
    let dir = TempDir::new();
    let store = BlobStore::open(&dir.0).expect("open store");
    let bytes = content(1000);
    let hash = store.put(&bytes).expect("put");
    let app = app(store);
    let uri = format!("/blobs/{hash}");
    for range in ["bytes=1000-", "bytes=5000-6000", "bytes=-0"] {
        let (status, headers, body) = request(&app, &uri, &[(header::RANGE, range)]).await;
        assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(h(&headers, header::CONTENT_RANGE), "bytes */1000");
        assert!(body.is_empty());
    }
    for range in ["bytes=0-1,5-9", "bytes=9-3", "lines=1-2", "bytes=x-"] {
        let (status, _, body) = request(&app, &uri, &[(header::RANGE, range)]).await;
        assert_eq!(status, StatusCode::OK, "{range}");
        assert_eq!(body, bytes);
    }
    // If-Range with another validator: the whole (changed) representation.
    let (status, _, body) = request(
        &app,
        &uri,
        &[
            (header::RANGE, "bytes=0-9"),
            (header::IF_RANGE, "\"something-else\""),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.len(), 1000);
    let etag = format!("\"{hash}\"");
    let (status, _, body) = request(
        &app,
        &uri,
        &[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body.len(), 10);
}

#[tokio::test]
async fn matching_if_none_match_gets_304_without_a_body() {
    let dir = TempDir::new();
    let store = BlobStore::open(&dir.0).expect("open store");
    let hash = store.put(&content(5000)).expect("put");
    let app = app(store);
    let uri = format!("/blobs/{hash}");
    let etag = format!("\"{hash}\"");
    for value in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"nope\", {etag}"),
        "*".to_owned(),
    ] {
        let (status, headers, body) = request(&app, &uri, &[(header::IF_NONE_MATCH, &value)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{value}");
        assert!(body.is_empty());
        assert_eq!(h(&headers, header::ETAG), etag);
    }
    let (status, _, body) = request(&app, &uri, &[(header::IF_NONE_MATCH, "\"other\"")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.len(), 5000);
}

#[tokio::test]
async fn missing_and_malformed_hashes_are_404() {
    let dir = TempDir::new();
    let store = BlobStore::open(&dir.0).expect("open store");
    let app = app(store);
    let absent = Hash::of(b"never stored");
    let (status, _, _) = request(&app, &format!("/blobs/{absent}"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for uri in [
        "/blobs/..%2F..%2Fetc%2Fpasswd",
        "/blobs/ABC",
        "/blobs/%2e%2e",
    ] {
        let (status, _, _) = request(&app, uri, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
}
