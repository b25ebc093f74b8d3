//! Timeline: texts with tags and mentions, ordering and pagination, filters, edit and
//! delete by the author only, marks, calls, and idempotent creation.

mod common;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

both! {
    async fn timeline_is_newest_first_and_pages_without_gaps(app) {
        let ana = app.user("Ana").await;
        let g = app.group(&ana, "T").await;
        for i in 0..25 {
            app.text(&g, &ana, &format!("message {i}")).await;
        }
        let mut seen: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/groups/{g}/items?limit=10&cursor={c}"),
                None => format!("/v1/groups/{g}/items?limit=10"),
            };
            let (s, v) = app.get(&path, &ana.token).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            for it in v["items"].as_array().unwrap() {
                seen.push(it["text"].as_str().unwrap().to_owned());
            }
            match v["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let expected: Vec<String> = (0..25).rev().map(|i| format!("message {i}")).collect();
        assert_eq!(seen, expected);
        let (s, v) = app.get(&format!("/v1/groups/{g}/items?limit=100000"), &ana.token).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["items"].as_array().unwrap().len(), 25);
    }
}

both! {
    async fn tags_filter_items_and_marks_tag_them_too(app) {
        let ana = app.user("Ana").await;
        let g = app.group(&ana, "T").await;
        let a = app.text(&g, &ana, "ship it #Release").await;
        app.text(&g, &ana, "unrelated").await;
        let c = app.text(&g, &ana, "later").await;
        assert_eq!(a["tags"], json!(["release"]));
        let (s, v) = app.post(&format!("/v1/groups/{g}/marks"), &ana.token,
            json!({"item_id": c["item_id"], "kind": "tag", "tag": "#release"})).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let (_, v) = app.get(&format!("/v1/groups/{g}/items?tag=release"), &ana.token).await;
        let ids: Vec<&Value> = v["items"].as_array().unwrap().iter().map(|i| &i["item_id"]).collect();
        assert_eq!(ids, vec![&c["item_id"], &a["item_id"]]);
        let (_, v) = app.get(&format!("/v1/groups/{g}/marks?tag=release"), &ana.token).await;
        assert_eq!(v["items"].as_array().unwrap().len(), 1);
    }
}

both! {
    async fn only_the_author_edits_or_deletes(app) {
        let ana = app.user("Ana").await;
        let bo = app.user("Bo").await;
        let g = app.group(&ana, "T").await;
        app.add_member(&g, &ana, &bo).await;
        let item = app.text(&g, &ana, "first #draft").await;
        let path = format!("/v1/groups/{g}/items/{}", item["item_id"].as_str().unwrap());
        let (s, _) = app.call(Method::PATCH, &path, Some(&bo.token), Some(json!({"text": "mine now"}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, v) = app.call(Method::PATCH, &path, Some(&ana.token), Some(json!({"text": "final #done"}))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["text"], "final #done");
        assert_eq!(v["tags"], json!(["done"]));
        assert!(v["edited_at"].is_i64());
        let (_, v) = app.get(&format!("/v1/groups/{g}/items?tag=draft"), &ana.token).await;
        assert!(v["items"].as_array().unwrap().is_empty());
        let (s, _) = app.call(Method::DELETE, &path, Some(&bo.token), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = app.call(Method::DELETE, &path, Some(&ana.token), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = app.get(&path, &ana.token).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
}

both! {
    async fn idempotency_key_replays_and_refuses_a_different_body(app) {
        let ana = app.user("Ana").await;
        let g = app.group(&ana, "T").await;
        let path = format!("/v1/groups/{g}/items");
        let hdr = [("idempotency-key", "k-123")];
        let (s1, v1) = app.call_with(Method::POST, &path, Some(&ana.token), Some(json!({"text": "once"})), &hdr).await;
        let (s2, v2) = app.call_with(Method::POST, &path, Some(&ana.token), Some(json!({"text": "once"})), &hdr).await;
        assert_eq!(s1, StatusCode::CREATED);
        assert_eq!((s1, &v1), (s2, &v2));
        let (_, list) = app.get(&path, &ana.token).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        let (s, v) = app.call_with(Method::POST, &path, Some(&ana.token), Some(json!({"text": "twice"})), &hdr).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(v["code"], "idempotency_key_reused");
        // The same key on another route, or by another account, is independent.
        let (s, _) = app.call_with(Method::POST, "/v1/groups", Some(&ana.token), Some(json!({"name": "x"})), &hdr).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = app.call_with(Method::POST, &path, Some(&ana.token), Some(json!({"text": "once"})), &[("idempotency-key", &"k".repeat(300))]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }
}

both! {
    async fn mentions_and_new_items_notify_other_members(app) {
        let ana = app.user("Ana").await;
        let bo = app.user("Bo").await;
        let cy = app.user("Cy").await;
        let g = app.group(&ana, "T").await;
        app.add_member(&g, &ana, &bo).await;
        app.add_member(&g, &ana, &cy).await;
        app.text(&g, &ana, "hey @bo look").await;
        let (_, nb) = app.get("/v1/notifications", &bo.token).await;
        let (_, nc) = app.get("/v1/notifications", &cy.token).await;
        let (_, na) = app.get("/v1/notifications", &ana.token).await;
        assert_eq!(nb["items"][0]["kind"], "mention");
        assert_eq!(nc["items"][0]["kind"], "new_item");
        assert!(na["items"].as_array().unwrap().is_empty(), "no notification for one's own item");
        assert_eq!(nb["unread_count"], 2, "the invitation and the mention");
        let id = nb["items"][0]["notification_id"].as_str().unwrap();
        let (s, _) = app.call(Method::POST, &format!("/v1/notifications/{id}/read"), Some(&bo.token), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = app.call(Method::POST, &format!("/v1/notifications/{id}/read"), Some(&cy.token), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "another user's notification");
        let (_, nb) = app.get("/v1/notifications?unread=true", &bo.token).await;
        assert_eq!(nb["items"].as_array().unwrap().len(), 1);
        assert_eq!(nb["items"][0]["kind"], "invitation");
        let (s, v) = app.post("/v1/notifications/read", &cy.token, json!({})).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["marked_read"], 2);
        let (_, nc) = app.get("/v1/notifications?unread=true", &cy.token).await;
        assert!(nc["items"].as_array().unwrap().is_empty());
    }
}

both! {
    async fn calls_are_items_and_marks_can_point_into_them(app) {
        let ana = app.user("Ana").await;
        let bo = app.user("Bo").await;
        let g = app.group(&ana, "T").await;
        app.add_member(&g, &ana, &bo).await;
        let (s, call) = app.post(&format!("/v1/groups/{g}/calls"), &ana.token, json!({"subject": "standup"})).await;
        assert_eq!(s, StatusCode::CREATED, "{call}");
        assert_eq!(call["kind"], "call");
        let (_, nb) = app.get("/v1/notifications", &bo.token).await;
        assert_eq!(nb["items"][0]["kind"], "call_started");
        assert_eq!(nb["items"][0]["subject"], "standup");
        let (_, calls) = app.get(&format!("/v1/groups/{g}/calls"), &bo.token).await;
        assert_eq!(calls["items"].as_array().unwrap().len(), 1);
        let (s, m) = app.post(&format!("/v1/groups/{g}/marks"), &bo.token,
            json!({"item_id": call["item_id"], "kind": "bookmark", "note": "decision here", "offset_ms": 61_500})).await;
        assert_eq!(s, StatusCode::CREATED, "{m}");
        assert_eq!(m["offset_ms"], 61_500);
        let text = app.text(&g, &ana, "plain").await;
        let (s, v) = app.post(&format!("/v1/groups/{g}/marks"), &bo.token,
            json!({"item_id": text["item_id"], "kind": "flag", "offset_ms": 5})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(v["code"], "offset_needs_call");
        // A mark on an item of another group is a 404.
        let other = app.group(&bo, "Other").await;
        let (s, _) = app.post(&format!("/v1/groups/{other}/marks"), &bo.token,
            json!({"item_id": text["item_id"], "kind": "flag"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Only the author deletes a mark.
        let mid = m["mark_id"].as_str().unwrap();
        let (s, _) = app.call(Method::DELETE, &format!("/v1/groups/{g}/marks/{mid}"), Some(&ana.token), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = app.call(Method::DELETE, &format!("/v1/groups/{g}/marks/{mid}"), Some(&bo.token), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
}

both! {
    async fn concurrent_posts_are_batched_without_loss_or_duplicates(app) {
        let ana = app.user("Ana").await;
        let bo = app.user("Bo").await;
        let g = app.group(&ana, "T").await;
        app.add_member(&g, &ana, &bo).await;
        let path = format!("/v1/groups/{g}/items");
        // 40 distinct posts and 10 retries of one key, all at once.
        let mut tasks = Vec::new();
        for i in 0..50 {
            let (text, key) = if i < 40 { (format!("post {i} #batch"), format!("k{i}")) } else { ("same".to_owned(), "dup".to_owned()) };
            let (path, token) = (path.clone(), ana.token.clone());
            tasks.push(async move {
                app.call_with(Method::POST, &path, Some(&token), Some(json!({"text": text})), &[("idempotency-key", key.as_str())]).await
            });
        }
        let results = futures_util::future::join_all(tasks).await;
        let dup_ids: std::collections::HashSet<String> = results[40..].iter().map(|(s, v)| {
            assert_eq!(*s, StatusCode::CREATED, "{v}");
            v["item_id"].as_str().unwrap().to_owned()
        }).collect();
        assert_eq!(dup_ids.len(), 1, "every retry got the one stored answer");
        assert!(results[..40].iter().all(|(s, _)| *s == StatusCode::CREATED));
        let (_, list) = app.get(&format!("{path}?limit=200"), &ana.token).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 41);
        let (_, tagged) = app.get(&format!("{path}?tag=batch&limit=200"), &ana.token).await;
        assert_eq!(tagged["items"].as_array().unwrap().len(), 40);
        let (_, n) = app.get("/v1/notifications?limit=200", &bo.token).await;
        assert_eq!(n["items"].as_array().unwrap().iter().filter(|x| x["kind"] == "new_item").count(), 41);
    }
}
