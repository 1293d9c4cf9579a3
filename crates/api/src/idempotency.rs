//! `Idempotency-Key` at the HTTP edge: the header read and checked, and a
//! replayed result marked as such. What a key means is the application's
//! business ([`app::idempotency`]).

use crate::problem::ApiError;
use app::idempotency::{parse_key, Created};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// Header naming the key.
pub const HEADER: &str = "idempotency-key";
/// Header set on a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";

/// The optional `Idempotency-Key` of a request, validated.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(HEADER) {
            None => Ok(Self(None)),
            Some(v) => Ok(Self(Some(parse_key(v.as_bytes())?))),
        }
    }
}

/// `201 Created` with the resource, marked when it replays an earlier result.
pub fn created<T: Serialize>(created: Created<T>) -> Response {
    let mut res = (StatusCode::CREATED, Json(created.value)).into_response();
    if created.replayed {
        res.headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    res
}
