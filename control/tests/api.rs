//! The API surface as a whole: the OpenAPI document matches the router, every route's
//! failures are problem documents, and every endpoint class refuses bad input cleanly
//! (malformed JSON, wrong types, missing content type, oversized bodies, missing and
//! forged tokens, injection-shaped and unicode-edge strings).

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use talko_control::api::BodyDoc;

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                uuid::Uuid::now_v7().to_string()
            } else {
                seg.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn raw(
    method: &Method,
    path: &str,
    token: Option<&str>,
    ctype: Option<&str>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut b = Request::builder().method(method.clone()).uri(path);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if let Some(c) = ctype {
        b = b.header("content-type", c);
    }
    b.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn openapi_document_lists_exactly_the_routes_the_router_serves() {
    let app = common::TestApp::sqlite().await;
    let (s, doc) = app.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let routes = talko_control::all_routes();
    let mut documented = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            documented += 1;
            assert!(
                !op["summary"].as_str().unwrap().is_empty(),
                "{method} {path} has no summary"
            );
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            assert!(
                routes.iter().any(|r| r.method == m && r.path == path),
                "{method} {path} not in the route table"
            );
            // The router answers it: anything but "no such route" / "method not allowed".
            let (status, _, body) = app
                .send(raw(&m, &concrete(path), None, None, Vec::new()))
                .await;
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            assert_ne!(v["code"], "route_not_found", "{method} {path}");
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
    }
    assert_eq!(
        documented,
        routes.len(),
        "every table entry is documented once"
    );
    // And the router serves nothing else.
    for (m, p) in [
        (Method::GET, "/v1/nope"),
        (Method::GET, "/v2/groups"),
        (Method::POST, "/v1/me/extra"),
    ] {
        let (s, _, body) = app.send(raw(&m, p, None, None, Vec::new())).await;
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (s, v["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("route_not_found")),
            "{p}"
        );
    }
    let (s, _, body) = app
        .send(raw(&Method::PUT, "/v1/groups", None, None, Vec::new()))
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["code"],
        "method_not_allowed"
    );
    app.finish().await;
}

both! {
    async fn every_route_answers_bad_input_with_a_problem_document(app) {
        let u = app.user("Ana").await;
        let big = vec![b'x'; app.state.config.max_json_bytes + 1];
        for r in talko_control::all_routes() {
            let path = concrete(r.path);
            let label = format!("{} {}", r.method, r.path);
            if r.auth {
                for token in [None, Some("tka_forged"), Some("")] {
                    let (s, h, body) = app.send(raw(&r.method, &path, token, Some("application/json"), b"{}".to_vec())).await;
                    assert_eq!(s, StatusCode::UNAUTHORIZED, "{label} token {token:?}");
                    assert_eq!(h["content-type"], "application/problem+json", "{label}");
                    let v: Value = serde_json::from_slice(&body).unwrap();
                    assert_eq!(v["status"], 401);
                    assert!(v["code"].is_string() && v["type"].is_string() && v["title"].is_string());
                }
            }
            if let BodyDoc::Json(_) = r.body {
                let cases: [(Option<&str>, Vec<u8>, StatusCode, &str); 6] = [
                    (Some("application/json"), b"{,}".to_vec(), StatusCode::BAD_REQUEST, "malformed_json"),
                    (Some("application/json"), b"\"a string\"".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
                    (Some("application/json"), vec![b'"', 0xff, 0xfe, b'"'], StatusCode::BAD_REQUEST, "malformed_json"),
                    (Some("application/json"), b"\"\\ud800\"".to_vec(), StatusCode::BAD_REQUEST, "malformed_json"),
                    (None, b"{}".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
                    (Some("application/json"), big.clone(), StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
                ];
                for (ctype, body, want, code) in cases {
                    let (s, h, out) = app.send(raw(&r.method, &path, Some(&u.token), ctype, body)).await;
                    let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
                    assert_eq!((s, v["code"].as_str()), (want, Some(code)), "{label}: {v}");
                    assert_eq!(h["content-type"], "application/problem+json", "{label}");
                }
            }
        }
    }
}

both! {
    async fn wrong_types_and_unknown_fields_name_the_field(app) {
        let u = app.user("Ana").await;
        let (s, v) = app.post("/v1/groups", &u.token, json!({"name": 42})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(v["detail"].as_str().unwrap().contains("name"), "{v}");
        let (s, _) = app.post("/v1/groups", &u.token, json!({"name": "ok", "owner": "me"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = app.post("/v1/groups", &u.token, json!({})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let g = app.group(&u, "T").await;
        for bad in ["limit=-1", "limit=abc", "cursor=%27%20OR%201%3D1", "kind=secret", "tag=a%20b"] {
            let (s, v) = app.get(&format!("/v1/groups/{g}/items?{bad}"), &u.token).await;
            assert_eq!(s, StatusCode::BAD_REQUEST.max(s), "{bad}: {v}");
            assert!(s == StatusCode::BAD_REQUEST || s == StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {s}");
        }
        // A malformed id in a path is a plain 404, like a missing one.
        let (s, v) = app.get("/v1/groups/not-a-uuid/items", &u.token).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    }
}

both! {
    async fn injection_shaped_and_unicode_edge_strings_round_trip_verbatim(app) {
        let u = app.user("Ana").await;
        let g = app.group(&u, "Robert'); DROP TABLE talk_groups;--").await;
        let texts = [
            "'; DROP TABLE items; -- #sql",
            "\" OR \"1\"=\"1",
            "$1 $2 ?1 :name @x",
            "<script>alert(1)</script>",
            "emoji 👩‍👩‍👧‍👦 and combining é vs é",
            "right-to-left \u{202E}txet",
            "ℌ𝔢𝔩𝔩𝔬 𝟙𝟚𝟛 #日本語",
            "tab\tand\nnewline",
        ];
        for t in texts {
            let item = app.text(&g, &u, t).await;
            assert_eq!(item["text"], t);
        }
        let (_, list) = app.get(&format!("/v1/groups/{g}/items?limit=200"), &u.token).await;
        let got: Vec<&str> = list["items"].as_array().unwrap().iter().map(|i| i["text"].as_str().unwrap()).collect();
        let mut want: Vec<&str> = texts.to_vec();
        want.reverse();
        assert_eq!(got, want);
        let (_, v) = app.get(&format!("/v1/groups/{g}/items?tag=%E6%97%A5%E6%9C%AC%E8%AA%9E"), &u.token).await;
        assert_eq!(v["items"].as_array().unwrap().len(), 1);
        let (_, v) = app.get(&format!("/v1/groups/{g}"), &u.token).await;
        assert_eq!(v["name"], "Robert'); DROP TABLE talk_groups;--");
        // Control characters, NUL and over-long texts are refused, not stored.
        for bad in ["nul\u{0}byte", "bell\u{7}", ""] {
            let (s, _) = app.post(&format!("/v1/groups/{g}/items"), &u.token, json!({"text": bad})).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        }
        let long: String = "é".repeat(4001);
        let (s, _) = app.post(&format!("/v1/groups/{g}/items"), &u.token, json!({"text": long})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = app.call(Method::PATCH, "/v1/me", Some(&u.token), Some(json!({"display_name": "a\u{202E}b"}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

both! {
    async fn another_users_token_never_reaches_foreign_data(app) {
        let ana = app.user("Ana").await;
        let bo = app.user("Bo").await;
        let g = app.group(&ana, "Private").await;
        let item = app.text(&g, &ana, "secret").await;
        let iid = item["item_id"].as_str().unwrap();
        for (m, p, body) in [
            (Method::GET, format!("/v1/groups/{g}/items/{iid}"), None),
            (Method::PATCH, format!("/v1/groups/{g}/items/{iid}"), Some(json!({"text": "x"}))),
            (Method::DELETE, format!("/v1/groups/{g}/items/{iid}"), None),
            (Method::POST, format!("/v1/groups/{g}/marks"), Some(json!({"item_id": iid, "kind": "flag"}))),
            (Method::POST, format!("/v1/groups/{g}/invites"), Some(json!({}))),
            (Method::GET, format!("/v1/groups/{g}/presence"), None),
            (Method::DELETE, format!("/v1/groups/{g}/members/{}", ana.id), None),
        ] {
            let (s, v) = app.call(m.clone(), &p, Some(&bo.token), body).await;
            assert_eq!((s, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{m} {p}");
        }
        // An item id from Bo's own group used under Ana's group id is also a 404 for Ana.
        let bg = app.group(&bo, "Bo's").await;
        let bitem = app.text(&bg, &bo, "bo's").await;
        let (s, _) = app.get(&format!("/v1/groups/{g}/items/{}", bitem["item_id"].as_str().unwrap()), &ana.token).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = common::TestApp::sqlite().await;
    let u = app.user("Ana").await;
    let g = app.group(&u, "T").await;
    app.get(&format!("/v1/groups/{g}/items"), &u.token).await;
    let (_, _, body) = app
        .send(raw(&Method::GET, "/metrics", None, None, Vec::new()))
        .await;
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("talko_http_requests_total{method=\"GET\",route=\"/v1/groups/{group_id}/items\",status=\"200\"} 1"), "{text}");
    assert!(!text.contains(&g), "ids never become labels");
    let (s, _, body) = app
        .send(raw(&Method::GET, "/readyz", None, None, Vec::new()))
        .await;
    assert_eq!((s, &body[..]), (StatusCode::OK, &b"ready"[..]));
    app.state
        .draining
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let (s, _, _) = app
        .send(raw(&Method::GET, "/readyz", None, None, Vec::new()))
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    app.finish().await;
}

both! {
    async fn expired_rows_are_purged(app) {
        let u = app.user("Ana").await;
        let g = app.group(&u, "T").await;
        let path = format!("/v1/groups/{g}/items");
        let hdr = [("idempotency-key", "purge-me")];
        let (_, first) = app.call_with(Method::POST, &path, Some(&u.token), Some(json!({"text": "a"})), &hdr).await;
        // Nothing is due yet.
        let now = talko_control::store::now_ms();
        assert_eq!(talko_control::purge_expired(&app.state.store, now).await.unwrap(), 0);
        // Forty days on: the idempotency record, both tokens and the device's session are gone.
        let later = now + 40 * 24 * 3600 * 1000;
        assert!(talko_control::purge_expired(&app.state.store, later).await.unwrap() >= 3);
        let (s, v) = app.call(Method::POST, "/v1/sessions/refresh", None, Some(json!({"refresh_token": u.refresh}))).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        let fresh = app.login(&u.email, "correct horse battery").await;
        let (s, second) = app.call_with(Method::POST, &path, Some(&fresh.token), Some(json!({"text": "a"})), &hdr).await;
        assert_eq!(s, StatusCode::CREATED);
        assert_ne!(first["item_id"], second["item_id"], "the key may be reused after its record expired");
    }
}
