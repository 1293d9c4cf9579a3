//! Extractors that turn every kind of bad input into problem+json naming the
//! field, instead of axum's plain-text rejections.

use crate::problem::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_TYPE, USER_AGENT};
use axum::http::request::Parts;
use domain::audit::RequestOrigin;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;

/// A JSON body, deserialized with the failing field's path reported.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let ct = ct.split(';').next().unwrap_or("").trim();
                ct == "application/json" || ct.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::MalformedBody(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ));
        }
        let limit = state.config.max_body_bytes;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge { limit }
            } else {
                ApiError::MalformedBody(format!("could not read the request body: {e}"))
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Deserializes JSON, naming the field that failed.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        use serde_json::error::Category;
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::MalformedBody(format!("the body is not valid JSON: {inner}"))
            }
            Category::Data => {
                let field = if path == "." {
                    "body".to_string()
                } else {
                    path
                };
                ApiError::field(&field, strip_position(&inner.to_string()))
            }
        }
    })
}

/// serde_json appends " at line L column C", which means nothing to an API client.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// A query string, deserialized with the failing parameter named.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|err| {
                let path = err.path().to_string();
                let msg = err.into_inner().to_string();
                let field = if path == "." { guess_field(&msg) } else { path };
                ApiError::field(&field, msg)
            })
    }
}

fn form_urlencoded_parse(q: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(q.as_bytes())
}

/// serde_urlencoded reports top-level errors without a path; unknown-field
/// messages name the field in backticks.
fn guess_field(msg: &str) -> String {
    msg.split('`')
        .nth(1)
        .map(str::to_string)
        .unwrap_or_else(|| "query".to_string())
}

/// Where the request came from, for the audit log.
pub struct Origin(pub RequestOrigin);

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect());
        Ok(Origin(RequestOrigin { ip, user_agent }))
    }
}
