//! Presence over HTTP: heartbeats bring a device online, availability is chosen, and a
//! group's members see each other's presence (non-members see nothing).

mod common;

use axum::http::{Method, StatusCode};
use serde_json::json;

both! {
    async fn heartbeat_and_availability_show_on_the_group_board(app) {
        let ana = app.user("Ana").await;
        let bo = app.user("Bo").await;
        let g = app.group(&ana, "T").await;
        app.add_member(&g, &ana, &bo).await;
        let board = |v: &serde_json::Value, id: &str| {
            v["items"].as_array().unwrap().iter().find(|i| i["account_id"] == id).unwrap()["presence"].clone()
        };
        let (s, v) = app.get(&format!("/v1/groups/{g}/presence"), &bo.token).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(board(&v, &ana.id)["online"], false);
        let (s, _) = app.call(Method::POST, "/v1/presence/heartbeat", Some(&ana.token), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = app.call(Method::PUT, "/v1/presence/availability", Some(&ana.token), Some(json!({"value": "busy"}))).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, v) = app.get(&format!("/v1/groups/{g}/presence"), &bo.token).await;
        let p = board(&v, &ana.id);
        assert_eq!(p["online"], true, "{v}");
        assert_eq!(p["availability"], "busy", "{v}");
        let (s, v) = app.call(Method::PUT, "/v1/presence/availability", Some(&ana.token), Some(json!({"value": "asleep"}))).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field")));
        let cy = app.user("Cy").await;
        let (s, _) = app.get(&format!("/v1/groups/{g}/presence"), &cy.token).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
}
