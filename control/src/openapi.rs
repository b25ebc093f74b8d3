//! The OpenAPI 3.1 document, generated from the same route tables as the router (see
//! `crate::api`), served at `/v1/openapi.json`.
//!
//! Owns: rendering routes as OpenAPI. Must never: describe a route the router lacks or
//! omit one it has (both come from `crate::all_routes`).

use serde_json::{json, Map, Value};

use crate::api::{ApiRoute, BodyDoc};

fn problem_schema() -> Value {
    json!({"type": "object", "required": ["type", "title", "status", "code"], "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "code": {"type": "string"}}})
}

fn path_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

/// The OpenAPI document for `routes`.
pub fn document(routes: &[ApiRoute]) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in routes {
        let mut params: Vec<Value> = path_params(r.path)
            .into_iter()
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}))
            .collect();
        if r.paginated {
            params.push(json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": crate::extract::MAX_LIMIT}}));
            params.push(json!({"name": "cursor", "in": "query", "description": "opaque next_cursor of the previous page", "schema": {"type": "string"}}));
        }
        for (name, desc) in r.query {
            params.push(json!({"name": name, "in": "query", "description": desc, "schema": {"type": "string"}}));
        }
        if r.idempotent {
            params.push(json!({"name": "Idempotency-Key", "in": "header", "description":
                "retry-safe key: the first response is replayed for the same body; a different body is a 422",
                "schema": {"type": "string", "maxLength": 255}}));
        }
        let mut op = json!({
            "summary": r.summary,
            "tags": [r.tag],
            "operationId": format!("{} {}", r.method, r.path),
            "parameters": params,
            "responses": {
                r.ok.as_u16().to_string(): match &r.response {
                    Some(schema) => json!({"description": "success", "content": {"application/json": {"schema": schema}}}),
                    None => json!({"description": "success"}),
                },
                "default": {"description": "problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            }
        });
        if let Some(o) = op.as_object_mut() {
            match &r.body {
                BodyDoc::None => {}
                BodyDoc::Json(schema) => {
                    o.insert("requestBody".into(), json!({"required": true, "content": {"application/json": {"schema": schema}}}));
                }
                BodyDoc::Upload(types) => {
                    let content: Map<String, Value> = types
                        .iter()
                        .map(|t| {
                            (
                                (*t).to_owned(),
                                json!({"schema": {"type": "string", "format": "binary"}}),
                            )
                        })
                        .collect();
                    o.insert(
                        "requestBody".into(),
                        json!({"required": true, "content": content}),
                    );
                }
            }
            o.insert(
                "security".into(),
                if r.auth {
                    json!([{"bearer": []}])
                } else {
                    json!([])
                },
            );
        }
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        if let Some(e) = entry.as_object_mut() {
            e.insert(r.method.as_str().to_lowercase(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "talko control plane", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "schemas": {"Problem": problem_schema()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        }
    })
}
