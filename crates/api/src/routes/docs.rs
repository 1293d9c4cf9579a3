//! The OpenAPI document and a browsable reference rendered from it.

use crate::problem::ApiError;
use askama::Template;
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse};
use std::sync::OnceLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{RefOr, Schema};

static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();

/// Keeps the document the router was built with, so serving it does not
/// assemble it a second time.
pub(crate) fn install(doc: utoipa::openapi::OpenApi) {
    let _ = DOC.set(doc);
}

fn document() -> &'static utoipa::openapi::OpenApi {
    DOC.get_or_init(crate::openapi::document)
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi_json() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| document().to_pretty_json().unwrap_or_default());
    ([(CONTENT_TYPE, "application/json")], json.as_str())
}

struct Param {
    name: String,
    location: String,
    required: bool,
    description: String,
}

struct Resp {
    status: String,
    description: String,
}

struct Op {
    anchor: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    params: Vec<Param>,
    body: Option<String>,
    responses: Vec<Resp>,
    auth: bool,
}

struct Field {
    name: String,
    kind: String,
    description: String,
}

struct SchemaDoc {
    name: String,
    description: String,
    fields: Vec<Field>,
}

struct ProblemType {
    slug: &'static str,
    status: u16,
    meaning: &'static str,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct Reference {
    title: String,
    version: String,
    description: String,
    ops: Vec<Op>,
    schemas: Vec<SchemaDoc>,
    problems: Vec<ProblemType>,
}

const PROBLEMS: &[ProblemType] = &[
    ProblemType {
        slug: "validation",
        status: 422,
        meaning: "A field is invalid; `errors` lists each field and what is wrong.",
    },
    ProblemType {
        slug: "malformed-body",
        status: 400,
        meaning: "The body is not JSON, or not sent as application/json.",
    },
    ProblemType {
        slug: "unauthorized",
        status: 401,
        meaning: "No valid bearer token.",
    },
    ProblemType {
        slug: "forbidden",
        status: 403,
        meaning: "The token lacks the scope the operation needs; `detail` names it.",
    },
    ProblemType {
        slug: "not-found",
        status: 404,
        meaning: "No such resource (other tenants' resources are not found either).",
    },
    ProblemType {
        slug: "method-not-allowed",
        status: 405,
        meaning: "The resource exists but not with that method.",
    },
    ProblemType {
        slug: "conflict",
        status: 409,
        meaning: "The request conflicts with the current state (duplicate, concurrent retry).",
    },
    ProblemType {
        slug: "payload-too-large",
        status: 413,
        meaning: "The body exceeds the size limit.",
    },
    ProblemType {
        slug: "internal",
        status: 500,
        meaning: "A server fault; quote the `request_id` to support.",
    },
    ProblemType {
        slug: "unavailable",
        status: 503,
        meaning: "A backend (the database) is down; retry after `retry_after` seconds.",
    },
    ProblemType {
        slug: "not-ready",
        status: 503,
        meaning: "The instance is not ready; `detail` names what is missing.",
    },
    ProblemType {
        slug: "timeout",
        status: 503,
        meaning: "The request took longer than the server allows.",
    },
];

fn type_name(s: &RefOr<Schema>) -> String {
    match s {
        RefOr::Ref(r) => r.ref_location.rsplit('/').next().unwrap_or("").to_string(),
        RefOr::T(Schema::Array(a)) => match &a.items {
            utoipa::openapi::schema::ArrayItems::RefOrSchema(inner) => {
                format!("array of {}", type_name(inner))
            }
            utoipa::openapi::schema::ArrayItems::False => "array".into(),
        },
        RefOr::T(Schema::Object(o)) => {
            let t = serde_json::to_value(&o.schema_type).ok().map(|v| match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(" or "),
                _ => String::new(),
            });
            let fmt = o
                .format
                .as_ref()
                .and_then(|f| serde_json::to_value(f).ok())
                .and_then(|v| v.as_str().map(str::to_string));
            match (t.filter(|s| !s.is_empty()), fmt) {
                (Some(t), Some(f)) => format!("{t} ({f})"),
                (Some(t), None) => t,
                (None, _) if !o.enum_values.as_ref().is_none_or(|e| e.is_empty()) => "enum".into(),
                _ => "object".into(),
            }
        }
        RefOr::T(Schema::OneOf(o)) => o
            .items
            .iter()
            .map(type_name)
            .collect::<Vec<_>>()
            .join(" | "),
        RefOr::T(Schema::AllOf(o)) => o
            .items
            .iter()
            .map(type_name)
            .collect::<Vec<_>>()
            .join(" & "),
        RefOr::T(_) => "value".into(),
    }
}

fn operation(method: &str, path: &str, op: &Operation) -> Op {
    let params = op
        .parameters
        .iter()
        .flatten()
        .map(|p| Param {
            name: p.name.clone(),
            location: serde_json::to_value(&p.parameter_in)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            required: matches!(p.required, utoipa::openapi::Required::True),
            description: p.description.clone().unwrap_or_default(),
        })
        .collect();
    let body = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.values().next())
        .and_then(|c| c.schema.as_ref())
        .map(type_name);
    let responses = op
        .responses
        .responses
        .iter()
        .map(|(status, r)| Resp {
            status: status.clone(),
            description: match r {
                RefOr::T(r) => {
                    let schema = r
                        .content
                        .values()
                        .next()
                        .and_then(|c| c.schema.as_ref())
                        .map(type_name);
                    match schema {
                        Some(s) if !r.description.is_empty() => format!("{s}: {}", r.description),
                        Some(s) => s,
                        None => r.description.clone(),
                    }
                }
                RefOr::Ref(r) => r.ref_location.clone(),
            },
        })
        .collect();
    Op {
        anchor: format!("{}-{}", method, path.replace(['/', '{', '}'], "-")),
        method: method.to_uppercase(),
        path: path.to_string(),
        summary: op.summary.clone().unwrap_or_default(),
        description: op.description.clone().unwrap_or_default(),
        params,
        body,
        responses,
        auth: op.security.as_ref().is_some_and(|s| !s.is_empty()),
    }
}

/// `GET /api/docs`: the reference, rendered on the server from the document.
pub async fn reference() -> Result<Html<String>, ApiError> {
    let doc = document();
    let mut ops = Vec::new();
    for (path, item) in doc.paths.paths.iter() {
        for (method, op) in [
            ("get", &item.get),
            ("post", &item.post),
            ("put", &item.put),
            ("patch", &item.patch),
            ("delete", &item.delete),
        ] {
            if let Some(op) = op {
                ops.push(operation(method, path, op));
            }
        }
    }
    let mut schemas = Vec::new();
    if let Some(c) = &doc.components {
        for (name, s) in &c.schemas {
            let (description, fields) = match s {
                RefOr::T(Schema::Object(o)) => (
                    o.description.clone().unwrap_or_default(),
                    o.properties
                        .iter()
                        .map(|(n, p)| Field {
                            name: n.clone(),
                            kind: type_name(p),
                            description: match p {
                                RefOr::T(Schema::Object(po)) => {
                                    po.description.clone().unwrap_or_default()
                                }
                                _ => String::new(),
                            },
                        })
                        .collect(),
                ),
                _ => (String::new(), Vec::new()),
            };
            schemas.push(SchemaDoc {
                name: name.clone(),
                description,
                fields,
            });
        }
    }
    let page = Reference {
        title: doc.info.title.clone(),
        version: doc.info.version.clone(),
        description: doc.info.description.clone().unwrap_or_default(),
        ops,
        schemas,
        problems: PROBLEMS
            .iter()
            .map(|p| ProblemType {
                slug: p.slug,
                status: p.status,
                meaning: p.meaning,
            })
            .collect(),
    };
    page.render()
        .map(Html)
        .map_err(|e| ApiError(app::AppError::Internal(e.to_string())))
}
