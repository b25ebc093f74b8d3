//! Contact matching: peppered hashes, only matches answered, opt-out and unverified
//! accounts hidden, wrong pepper answered with the current one, rotation, batch cap and
//! per-account rate limit.

mod common;

use axum::http::{Method, StatusCode};
use serde_json::json;
use talko_control::contacts::lookup_hash;

both! {
    async fn only_discoverable_verified_matches_are_returned(app) {
        let ana = app.user("Ana").await;
        let bo = app.user("Bo").await;
        let cy = app.user("Cy").await;
        // An unverified account is never found.
        let (s, _) = app.call(Method::POST, "/v1/accounts", None,
            Some(json!({"email": "dan@example.org", "password": "long enough pw", "display_name": "Dan"}))).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = app.call(Method::PATCH, "/v1/me", Some(&cy.token), Some(json!({"discoverable": false}))).await;
        assert_eq!(s, StatusCode::OK);
        let (_, p) = app.get("/v1/contacts/pepper", &ana.token).await;
        let pepper = p["pepper"].as_str().unwrap().to_owned();
        let hashes: Vec<String> = [&bo.email, &cy.email, "dan@example.org", "nobody@example.org"]
            .iter().map(|e| lookup_hash("email", e, &pepper)).collect();
        let mut body = json!({"pepper": pepper, "algorithm": "sha256", "hashes": hashes});
        body["hashes"].as_array_mut().unwrap().push(json!("not a hash"));
        body["hashes"].as_array_mut().unwrap().push(json!(lookup_hash("msisdn", "15551234567", &pepper)));
        let (s, v) = app.post("/v1/contacts/match", &ana.token, body).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let m = v["matches"].as_array().unwrap();
        assert_eq!(m.len(), 1, "{v}");
        assert_eq!(m[0]["account_id"], bo.id.as_str());
        assert_eq!(m[0]["hash"], hashes[0].as_str());
    }
}

both! {
    async fn stale_pepper_is_refused_with_the_current_one_after_rotation(app) {
        let ana = app.user("Ana").await;
        let bo = app.user("Bo").await;
        let (_, p) = app.get("/v1/contacts/pepper", &ana.token).await;
        let old = p["pepper"].as_str().unwrap().to_owned();
        let new = talko_control::contacts::rotate(&app.state.store).await.unwrap();
        assert_ne!(old, new);
        let (s, v) = app.post("/v1/contacts/match", &ana.token,
            json!({"pepper": old, "hashes": [lookup_hash("email", &bo.email, &old)]})).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert_eq!(v["code"], "invalid_pepper");
        assert_eq!(v["pepper"], new.as_str());
        // Stored hashes were recomputed: the new pepper finds Bo.
        let (s, v) = app.post("/v1/contacts/match", &ana.token,
            json!({"pepper": new, "hashes": [lookup_hash("email", &bo.email, &new)]})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["matches"].as_array().unwrap().len(), 1);
    }
}

both! {
    async fn batches_are_capped_and_lookups_rate_limited(app) {
        let ana = app.user("Ana").await;
        let (_, p) = app.get("/v1/contacts/pepper", &ana.token).await;
        let pepper = p["pepper"].as_str().unwrap().to_owned();
        let many: Vec<String> = (0..51).map(|i| lookup_hash("email", &format!("u{i}@x.org"), &pepper)).collect();
        let (s, v) = app.post("/v1/contacts/match", &ana.token, json!({"pepper": pepper, "hashes": many})).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("batch_too_large")));
        // The test configuration allows 3 lookups a minute.
        for _ in 0..3 {
            let (s, _) = app.post("/v1/contacts/match", &ana.token, json!({"pepper": pepper, "hashes": []})).await;
            assert_eq!(s, StatusCode::OK);
        }
        let (s, v) = app.post("/v1/contacts/match", &ana.token, json!({"pepper": pepper, "hashes": []})).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")));
        // Another account has its own budget.
        let bo = app.user("Bo").await;
        let (s, _) = app.post("/v1/contacts/match", &bo.token, json!({"pepper": pepper, "hashes": []})).await;
        assert_eq!(s, StatusCode::OK);
    }
}

#[tokio::test]
async fn operator_rotation_needs_the_admin_token() {
    let app = common::TestApp::sqlite_with(|c| c.admin_token = Some("op-secret".into())).await;
    let (s, _) = app
        .call(
            Method::POST,
            "/v1/admin/contacts/pepper/rotate",
            Some("wrong"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/admin/contacts/pepper/rotate",
            Some("op-secret"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["pepper"].is_string());
    app.finish().await;
}
