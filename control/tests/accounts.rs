//! Accounts: registration, verification, login, refresh, logout, devices, profile.

mod common;

use axum::http::{Method, StatusCode};
use serde_json::json;

both! {
    async fn register_verify_login_and_profile(app) {
        let ana = app.user("Ana").await;
        let (s, me) = app.get("/v1/me", &ana.token).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(me["display_name"], "Ana");
        assert_eq!(me["email_verified"], true);
        assert!(me.get("password_hash").is_none());
        let (s, me) = app.call(Method::PATCH, "/v1/me", Some(&ana.token), Some(json!({"display_name": "Ana B", "discoverable": false}))).await;
        assert_eq!(s, StatusCode::OK, "{me}");
        assert_eq!(me["display_name"], "Ana B");
        assert_eq!(me["discoverable"], false);
    }
}

both! {
    async fn duplicate_email_is_a_conflict(app) {
        app.user("Bo").await;
        let (s, v) = app.call(Method::POST, "/v1/accounts", None,
            Some(json!({"email": "BO@example.org", "password": "another password", "display_name": "x"}))).await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(v["code"], "email_taken");
    }
}

both! {
    async fn wrong_code_is_refused_and_attempts_are_capped(app) {
        let (s, _) = app.call(Method::POST, "/v1/accounts", None,
            Some(json!({"email": "cy@example.org", "password": "long enough pw", "display_name": "Cy"}))).await;
        assert_eq!(s, StatusCode::CREATED);
        let code = app.code_for("cy@example.org");
        let wrong = if code == "000000" { "000001" } else { "000000" };
        for _ in 0..5 {
            let (s, v) = app.call(Method::POST, "/v1/accounts/verify", None, Some(json!({"email": "cy@example.org", "code": wrong}))).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
            assert_eq!(v["code"], "invalid_code");
        }
        // Even the right code is refused once the attempts are spent.
        let (s, _) = app.call(Method::POST, "/v1/accounts/verify", None, Some(json!({"email": "cy@example.org", "code": code}))).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
        // A resend resets it.
        let (s, _) = app.call(Method::POST, "/v1/accounts/verify/resend", None, Some(json!({"email": "cy@example.org"}))).await;
        assert_eq!(s, StatusCode::ACCEPTED);
        let code = app.code_for("cy@example.org");
        let (s, _) = app.call(Method::POST, "/v1/accounts/verify", None, Some(json!({"email": "cy@example.org", "code": code}))).await;
        assert_eq!(s, StatusCode::OK);
        // Resend for an unknown address looks the same.
        let (s, _) = app.call(Method::POST, "/v1/accounts/verify/resend", None, Some(json!({"email": "nobody@example.org"}))).await;
        assert_eq!(s, StatusCode::ACCEPTED);
    }
}

both! {
    async fn login_failures_do_not_reveal_which_part_was_wrong(app) {
        let ana = app.user("Dee").await;
        let (s1, v1) = app.call(Method::POST, "/v1/sessions", None, Some(json!({"email": ana.email, "password": "wrong password"}))).await;
        let (s2, v2) = app.call(Method::POST, "/v1/sessions", None, Some(json!({"email": "ghost@example.org", "password": "wrong password"}))).await;
        assert_eq!(s1, StatusCode::UNAUTHORIZED);
        assert_eq!(s2, StatusCode::UNAUTHORIZED);
        assert_eq!(v1, v2);
    }
}

both! {
    async fn refresh_rotates_and_logout_revokes(app) {
        let u = app.user("Eve").await;
        let (s, v) = app.call(Method::POST, "/v1/sessions/refresh", None, Some(json!({"refresh_token": u.refresh}))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let new_access = v["access_token"].as_str().unwrap().to_owned();
        // The old refresh token is spent.
        let (s, v) = app.call(Method::POST, "/v1/sessions/refresh", None, Some(json!({"refresh_token": u.refresh}))).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(v["code"], "invalid_token");
        let (s, _) = app.get("/v1/me", &new_access).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = app.call(Method::DELETE, "/v1/sessions/current", Some(&new_access), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        // Both tokens of that device stop working at once (the cache is evicted).
        let (s, _) = app.get("/v1/me", &new_access).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _) = app.get("/v1/me", &u.token).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
}

both! {
    async fn devices_are_listed_named_and_revoked(app) {
        let u = app.user("Fay").await;
        let other = app.login(&u.email, "correct horse battery").await;
        let (s, v) = app.get("/v1/devices", &u.token).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
        let path = format!("/v1/devices/{}", other.device);
        let (s, v) = app.call(Method::PATCH, &path, Some(&u.token), Some(json!({"name": "phone"}))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, _) = app.call(Method::DELETE, &path, Some(&u.token), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = app.get("/v1/me", &other.token).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        // Someone else's device is not found.
        let g = app.user("Gus").await;
        let (s, _) = app.call(Method::DELETE, &format!("/v1/devices/{}", u.device), Some(&g.token), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn expired_access_tokens_are_refused() {
    let app = common::TestApp::sqlite_with(|c| c.access_ttl_s = -1).await;
    let u = app.user("Hal").await;
    let (s, v) = app.get("/v1/me", &u.token).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["code"], "invalid_token");
    app.finish().await;
}
