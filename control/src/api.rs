//! The route table: every API route is declared once as an `ApiRoute` (method, path, handler
//! and its documentation). Both the axum router and the OpenAPI document are generated from
//! these tables, so they cannot disagree.
//!
//! Owns: `ApiRoute`, building a router from routes (body limits per route), response
//! helpers. Must never: register a route outside a resource's `routes()` table.

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{self, MethodRouter};
use axum::{Json, Router};
use serde_json::Value;

use crate::config::Config;
use crate::AppState;

/// What a route's request body is.
#[derive(Clone, Debug)]
pub enum BodyDoc {
    /// No body.
    None,
    /// A JSON object with this JSON Schema.
    Json(Value),
    /// A raw upload of one of these media types (larger body limit).
    Upload(&'static [&'static str]),
}

/// One documented route.
pub struct ApiRoute {
    /// HTTP method.
    pub method: Method,
    /// Path template (`/v1/groups/{group_id}`), the same syntax for axum and OpenAPI.
    pub path: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// OpenAPI tag (the resource).
    pub tag: &'static str,
    /// Needs a bearer access token.
    pub auth: bool,
    /// Honours `Idempotency-Key`.
    pub idempotent: bool,
    /// Takes `limit` and `cursor` and answers a page.
    pub paginated: bool,
    /// Extra query parameters: (name, description).
    pub query: &'static [(&'static str, &'static str)],
    /// Request body.
    pub body: BodyDoc,
    /// Success status.
    pub ok: StatusCode,
    /// Response body schema on success (`None`: no body or not JSON).
    pub response: Option<Value>,
    /// The handler.
    pub handler: MethodRouter<AppState>,
}

impl ApiRoute {
    fn new(method: Method, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        Self {
            method,
            path,
            summary: "",
            tag: "",
            auth: true,
            idempotent: false,
            paginated: false,
            query: &[],
            body: BodyDoc::None,
            ok: StatusCode::OK,
            response: None,
            handler,
        }
    }
    /// Sets the summary and tag.
    pub fn doc(mut self, tag: &'static str, summary: &'static str) -> Self {
        self.tag = tag;
        self.summary = summary;
        self
    }
    /// No token needed.
    pub fn public(mut self) -> Self {
        self.auth = false;
        self
    }
    /// A JSON body with this schema.
    pub fn json(mut self, schema: Value) -> Self {
        self.body = BodyDoc::Json(schema);
        self
    }
    /// A raw upload of these media types.
    pub fn upload(mut self, types: &'static [&'static str]) -> Self {
        self.body = BodyDoc::Upload(types);
        self
    }
    /// Creates something: 201 and `Idempotency-Key`.
    pub fn creates(mut self) -> Self {
        self.ok = StatusCode::CREATED;
        self.idempotent = true;
        self
    }
    /// Success status.
    pub fn status(mut self, s: StatusCode) -> Self {
        self.ok = s;
        self
    }
    /// Paginated list.
    pub fn paginated(mut self) -> Self {
        self.paginated = true;
        self
    }
    /// Extra query parameters.
    pub fn query(mut self, q: &'static [(&'static str, &'static str)]) -> Self {
        self.query = q;
        self
    }
    /// Response schema.
    pub fn returns(mut self, schema: Value) -> Self {
        self.response = Some(schema);
        self
    }
}

macro_rules! verb {
    ($name:ident, $method:ident, $axum:ident) => {
        /// A route for this method.
        pub fn $name<H, T>(path: &'static str, h: H) -> ApiRoute
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            ApiRoute::new(Method::$method, path, routing::$axum(h))
        }
    };
}
verb!(get, GET, get);
verb!(post, POST, post);
verb!(patch, PATCH, patch);
verb!(put, PUT, put);
verb!(delete, DELETE, delete);

/// Builds a router from routes; upload routes get the larger body limit.
pub fn router(routes: Vec<ApiRoute>, cfg: &Config) -> Router<AppState> {
    let mut r = Router::new();
    for route in routes {
        let handler = match route.body {
            BodyDoc::Upload(_) => route
                .handler
                .layer(DefaultBodyLimit::max(cfg.max_upload_bytes)),
            _ => route.handler,
        };
        r = r.route(route.path, handler);
    }
    r
}

/// 201 with a JSON body.
pub fn created(v: Value) -> Response {
    (StatusCode::CREATED, Json(v)).into_response()
}

/// 200 with a JSON body.
pub fn ok(v: Value) -> Response {
    (StatusCode::OK, Json(v)).into_response()
}

/// 204.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
