//! Extractors that turn every kind of bad input into problem+json naming the
//! field, instead of axum's plain-text rejections.

use crate::problem::ApiError;
use app::origin::Arrival;
use app::{App, AppError};
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_TYPE, FORWARDED, USER_AGENT};
use axum::http::request::Parts;
use domain::audit::RequestOrigin;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;

/// A JSON body, deserialized with the failing field's path reported.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<App> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &App) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                // Media types are case-insensitive (RFC 9110 §8.3.1).
                let ct = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                ct == "application/json" || ct.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError(AppError::MalformedBody(
                "send the body as JSON with `Content-Type: application/json`".into(),
            )));
        }
        let limit = state.config.max_body_bytes;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError(AppError::TooLarge { limit })
            } else {
                ApiError(AppError::MalformedBody(format!(
                    "could not read the request body: {e}"
                )))
            }
        })?;
        parse_json(&bytes).map(ApiJson).map_err(ApiError)
    }
}

/// Deserializes JSON, naming the field that failed.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        use serde_json::error::Category;
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                AppError::MalformedBody(format!("the body is not valid JSON: {inner}"))
            }
            Category::Data => {
                let field = if path == "." {
                    "body".to_string()
                } else {
                    path
                };
                AppError::field(&field, strip_position(&inner.to_string()))
            }
        }
    })?;
    // A body is one JSON value: `{..} garbage` is refused, not half-read.
    de.end().map_err(|e| {
        AppError::MalformedBody(format!(
            "the body has data after its JSON value: {}",
            strip_position(&e.to_string())
        ))
    })?;
    Ok(value)
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
                ApiError(AppError::field(&field, msg))
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

/// Where the request came from, for the audit log and the sign-in throttle.
pub struct Origin(pub RequestOrigin);

impl FromRequestParts<App> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &App) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let arrival = Arrival {
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
            forwarded: header(FORWARDED.as_str()),
            x_forwarded_for: header("x-forwarded-for"),
            user_agent: header(USER_AGENT.as_str()),
        };
        Ok(Origin(app::origin::resolve(
            arrival,
            &state.config.trusted_proxies,
        )))
    }
}
