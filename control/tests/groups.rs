//! Groups: roles and permissions, invitations (account and link), join, leave, remove,
//! and the privacy rule: a non-member gets the same 404 as for a group that does not exist.

mod common;

use axum::http::{Method, StatusCode};
use serde_json::json;

both! {
    async fn non_members_cannot_tell_a_group_exists(app) {
        let ana = app.user("Ana").await;
        let bo = app.user("Bo").await;
        let g = app.group(&ana, "Team").await;
        let missing = uuid::Uuid::now_v7();
        for path in [format!("/v1/groups/{g}"), format!("/v1/groups/{g}/items"), format!("/v1/groups/{g}/members"),
                     format!("/v1/groups/{g}/marks"), format!("/v1/groups/{g}/calls")] {
            let (s1, v1) = app.get(&path, &bo.token).await;
            let (s2, v2) = app.get(&path.replace(&g, &missing.to_string()), &bo.token).await;
            assert_eq!(s1, StatusCode::NOT_FOUND, "{path}");
            assert_eq!((s1, v1), (s2, v2), "{path}");
        }
        let (s, _) = app.post(&format!("/v1/groups/{g}/items"), &bo.token, json!({"text": "hi"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, v) = app.get("/v1/groups", &bo.token).await;
        assert_eq!(s, StatusCode::OK);
        assert!(v["items"].as_array().unwrap().is_empty());
    }
}

both! {
    async fn roles_gate_rename_invite_and_remove(app) {
        let owner = app.user("Olga").await;
        let admin = app.user("Adam").await;
        let m1 = app.user("Mia").await;
        let m2 = app.user("Max").await;
        let g = app.group(&owner, "Crew").await;
        for u in [&admin, &m1, &m2] {
            app.add_member(&g, &owner, u).await;
        }
        // Only the owner changes roles.
        let (s, _) = app.call(Method::PATCH, &format!("/v1/groups/{g}/members/{}", admin.id), Some(&m1.token), Some(json!({"role": "admin"}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, v) = app.call(Method::PATCH, &format!("/v1/groups/{g}/members/{}", admin.id), Some(&owner.token), Some(json!({"role": "admin"}))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        // Members cannot rename; admins can.
        let (s, v) = app.call(Method::PATCH, &format!("/v1/groups/{g}"), Some(&m1.token), Some(json!({"name": "Mine"}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(v["code"], "insufficient_role");
        let (s, _) = app.call(Method::PATCH, &format!("/v1/groups/{g}"), Some(&admin.token), Some(json!({"name": "Crew 2"}))).await;
        assert_eq!(s, StatusCode::OK);
        // Members cannot invite.
        let (s, _) = app.post(&format!("/v1/groups/{g}/invites"), &m1.token, json!({})).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // An admin removes a member but not the owner.
        let (s, _) = app.call(Method::DELETE, &format!("/v1/groups/{g}/members/{}", m2.id), Some(&admin.token), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = app.get(&format!("/v1/groups/{g}"), &m2.token).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = app.call(Method::DELETE, &format!("/v1/groups/{g}/members/{}", owner.id), Some(&admin.token), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // A member leaves; the owner cannot while others remain.
        let (s, _) = app.call(Method::DELETE, &format!("/v1/groups/{g}/members/{}", m1.id), Some(&m1.token), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, v) = app.call(Method::DELETE, &format!("/v1/groups/{g}/members/{}", owner.id), Some(&owner.token), None).await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(v["code"], "owner_cannot_leave");
        let (_, v) = app.get(&format!("/v1/groups/{g}/members"), &owner.token).await;
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
    }
}

both! {
    async fn link_invites_join_until_they_expire(app) {
        let owner = app.user("Ola").await;
        let joiner = app.user("Jo").await;
        let g = app.group(&owner, "Open").await;
        let (s, v) = app.post(&format!("/v1/groups/{g}/invites"), &owner.token, json!({"expires_in_s": 3600})).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let token = v["token"].as_str().unwrap().to_owned();
        let (s, v) = app.post("/v1/join", &joiner.token, json!({"token": token})).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, v) = app.get(&format!("/v1/groups/{g}"), &joiner.token).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["role"], "member");
        let (s, _) = app.post("/v1/join", &joiner.token, json!({"token": "inv_forged"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Expire the link in the store; joining now says so.
        sqlx::query("UPDATE invites SET expires_at = 0").execute(app.state.store.w()).await.unwrap();
        let late = app.user("Late").await;
        let (s, v) = app.post("/v1/join", &late.token, json!({"token": token})).await;
        assert_eq!(s, StatusCode::GONE);
        assert_eq!(v["code"], "invite_expired");
        let (s, _) = app.post(&format!("/v1/groups/{g}/invites"), &owner.token, json!({"expires_in_s": 5})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

both! {
    async fn account_invites_notify_and_only_the_invitee_accepts(app) {
        let owner = app.user("Oz").await;
        let inv = app.user("Ivy").await;
        let other = app.user("Ot").await;
        let g = app.group(&owner, "Band").await;
        let (s, v) = app.post(&format!("/v1/groups/{g}/invites"), &owner.token, json!({"account_id": inv.id, "subject": "gig friday"})).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let invite = v["invite_id"].as_str().unwrap().to_owned();
        let (_, n) = app.get("/v1/notifications", &inv.token).await;
        assert_eq!(n["items"][0]["kind"], "invitation");
        assert_eq!(n["items"][0]["subject"], "gig friday");
        assert_eq!(n["items"][0]["group_id"], g.as_str());
        let (_, list) = app.get("/v1/invites", &inv.token).await;
        assert_eq!(list["items"][0]["group_name"], "Band");
        let (s, _) = app.call(Method::POST, &format!("/v1/invites/{invite}/accept"), Some(&other.token), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = app.call(Method::POST, &format!("/v1/invites/{invite}/accept"), Some(&inv.token), None).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = app.call(Method::POST, &format!("/v1/invites/{invite}/accept"), Some(&inv.token), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, v) = app.post(&format!("/v1/groups/{g}/invites"), &owner.token, json!({"account_id": inv.id})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
    }
}
