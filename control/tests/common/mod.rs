//! Test harness: builds the whole app on a fresh store — a temporary SQLite file, or a
//! fresh PostgreSQL schema on `TALKO_TEST_DATABASE_URL` (dropped afterwards) — and calls
//! it with `tower::ServiceExt::oneshot`. `both!` runs a test body on both backends.
#![allow(dead_code)] // each test file uses a different part of the harness

use std::path::PathBuf;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use serde_json::{json, Value};
use sqlx::Executor as _;
use talko_control::config::Config;
use talko_control::mailer::{Mailer, Outbox};
use talko_control::store::{Store, StoreOptions};
use talko_control::{app, AppState};
use tower::ServiceExt as _;

/// Runs `async fn name(app)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both {
    (async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: &common::TestApp) $body
            #[tokio::test]
            async fn sqlite() {
                let app = common::TestApp::sqlite().await;
                app.run_then_finish(run).await;
            }
            #[tokio::test]
            async fn postgres() {
                if let Some(app) = common::TestApp::postgres().await {
                    app.run_then_finish(run).await;
                }
            }
        }
    };
}

/// An app on a fresh store.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub outbox: Outbox,
    dir: PathBuf,
    pg: Option<(String, String)>,
}

/// A logged-in user.
#[derive(Clone, Debug)]
pub struct User {
    pub token: String,
    pub refresh: String,
    pub id: String,
    pub device: String,
    pub email: String,
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("talko-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.to_owned(),
        contacts_per_minute: 3,
        contacts_max_batch: 50,
        ..Config::default()
    }
}

impl TestApp {
    async fn build(
        store: Store,
        dir: PathBuf,
        pg: Option<(String, String)>,
        cfg: Config,
    ) -> TestApp {
        let (mailer, outbox) = Mailer::memory();
        let state = AppState::new(cfg, store, mailer).await.expect("state");
        TestApp {
            router: app(state.clone()),
            state,
            outbox,
            dir,
            pg,
        }
    }

    /// On a temporary SQLite file.
    pub async fn sqlite() -> TestApp {
        Self::sqlite_with(|_| {}).await
    }

    /// On a temporary SQLite file, with settings changed by `f`.
    pub async fn sqlite_with(f: impl FnOnce(&mut Config)) -> TestApp {
        let dir = temp_dir();
        let url = format!("sqlite://{}?mode=rwc", dir.join("talko.db").display());
        let store = Store::connect(&url, &StoreOptions::default())
            .await
            .expect("sqlite store");
        let mut cfg = test_config(&dir);
        f(&mut cfg);
        Self::build(store, dir, None, cfg).await
    }

    /// On a fresh schema of `TALKO_TEST_DATABASE_URL`; `None` (loudly) if it is unset.
    pub async fn postgres() -> Option<TestApp> {
        let Ok(base) = std::env::var("TALKO_TEST_DATABASE_URL") else {
            eprintln!(
                "\n!!!!!!!! SKIPPING the PostgreSQL run of this test: TALKO_TEST_DATABASE_URL is not set \
                 (scripts/test sets it) !!!!!!!!\n"
            );
            return None;
        };
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        sqlx::any::install_default_drivers();
        let admin = sqlx::AnyPool::connect(&base)
            .await
            .expect("connect to TALKO_TEST_DATABASE_URL");
        admin
            .execute(format!("CREATE SCHEMA {schema}").as_str())
            .await
            .expect("create schema");
        admin.close().await;
        let store = Store::connect(
            &base,
            &StoreOptions {
                pg_schema: Some(schema.clone()),
                pool_size: 4,
            },
        )
        .await
        .expect("postgres store");
        let dir = temp_dir();
        let cfg = test_config(&dir);
        Some(Self::build(store, dir, Some((base, schema)), cfg).await)
    }

    /// `(base URL, schema)` of a PostgreSQL test app.
    pub fn pg(&self) -> Option<&(String, String)> {
        self.pg.as_ref()
    }

    /// Another node on the same store (its own hub, caches and writer).
    pub async fn second_node(&self) -> AppState {
        let store = match &self.pg {
            Some((base, schema)) => Store::connect(
                base,
                &StoreOptions {
                    pg_schema: Some(schema.clone()),
                    pool_size: 4,
                },
            )
            .await
            .expect("second node store"),
            None => self.state.store.clone(),
        };
        let (mailer, _) = Mailer::memory();
        AppState::new(test_config(&self.dir), store, mailer)
            .await
            .expect("second node")
    }

    /// Runs a test body, then cleans up even if the body panicked (and re-raises).
    pub async fn run_then_finish<F>(self, body: F)
    where
        F: for<'a> AsyncFnOnce(&'a TestApp),
    {
        use futures_util::FutureExt as _;
        let outcome = std::panic::AssertUnwindSafe(body(&self))
            .catch_unwind()
            .await;
        self.finish().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    /// Drops the schema / removes the files.
    pub async fn finish(self) {
        self.state.store.close().await;
        if let Some((base, schema)) = &self.pg {
            if let Ok(admin) = sqlx::AnyPool::connect(base).await {
                let _ = admin
                    .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
                    .await;
                admin.close().await;
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Sends a raw request.
    pub async fn send(&self, req: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, headers, body)
    }

    /// Sends JSON (or nothing) with an optional token; answers status and JSON (Null when
    /// the body is empty or not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_with(method, path, token, body, &[]).await
    }

    /// `call` with extra headers.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        }
        .expect("request");
        let (status, _, bytes) = self.send(req).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// Registers, verifies (with the mailed code) and logs in.
    pub async fn user(&self, name: &str) -> User {
        let email = format!("{}@example.org", name.to_lowercase());
        let (s, v) = self
            .call(Method::POST, "/v1/accounts", None, Some(json!({"email": email, "password": "correct horse battery", "display_name": name})))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let code = self.code_for(&email);
        let (s, v) = self
            .call(
                Method::POST,
                "/v1/accounts/verify",
                None,
                Some(json!({"email": email, "code": code})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        self.login(&email, "correct horse battery").await
    }

    /// Logs in as a new device.
    pub async fn login(&self, email: &str, password: &str) -> User {
        let (s, v) = self
            .call(
                Method::POST,
                "/v1/sessions",
                None,
                Some(json!({"email": email, "password": password, "device_name": "test"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        User {
            token: v["access_token"].as_str().expect("token").to_owned(),
            refresh: v["refresh_token"].as_str().expect("refresh").to_owned(),
            id: v["account_id"].as_str().expect("id").to_owned(),
            device: v["device_id"].as_str().expect("device").to_owned(),
            email: email.to_owned(),
        }
    }

    /// The last code mailed to `email`.
    pub fn code_for(&self, email: &str) -> String {
        let outbox = self.outbox.lock().expect("outbox");
        outbox
            .iter()
            .rev()
            .find(|(to, _)| to == email)
            .map(|(_, c)| c.clone())
            .expect("a code was mailed")
    }

    /// Creates a group owned by `owner`; returns its id.
    pub async fn group(&self, owner: &User, name: &str) -> String {
        let (s, v) = self
            .post("/v1/groups", &owner.token, json!({"name": name}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["group_id"].as_str().expect("group id").to_owned()
    }

    /// Puts `user` into `group` through an account invitation accepted by them.
    pub async fn add_member(&self, group: &str, admin: &User, user: &User) {
        let (s, v) = self
            .post(
                &format!("/v1/groups/{group}/invites"),
                &admin.token,
                json!({"account_id": user.id}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let invite = v["invite_id"].as_str().expect("invite id");
        let (s, v) = self
            .call(
                Method::POST,
                &format!("/v1/invites/{invite}/accept"),
                Some(&user.token),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    /// Posts a text; returns the item JSON.
    pub async fn text(&self, group: &str, user: &User, text: &str) -> Value {
        let (s, v) = self
            .post(
                &format!("/v1/groups/{group}/items"),
                &user.token,
                json!({"text": text}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }
}
