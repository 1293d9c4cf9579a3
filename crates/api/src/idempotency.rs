//! `Idempotency-Key` for creating POSTs: the first response under a key is
//! stored in the same transaction as the change, and a retry with the same
//! key and the same request gets that response back instead of a second
//! resource.

use crate::problem::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use store::idempotency::{self, StoredResponse};
use store::TenantTx;

/// Header naming the key.
pub const HEADER: &str = "idempotency-key";
/// Header set on a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";

/// The optional `Idempotency-Key` of a request, validated.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(v) = parts.headers.get(HEADER) else {
            return Ok(Self(None));
        };
        let s = v
            .to_str()
            .ok()
            .filter(|s| (1..=255).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()));
        match s {
            Some(s) => Ok(Self(Some(s.to_string()))),
            None => Err(ApiError::field(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )),
        }
    }
}

/// A fingerprint of the request a key was first used with.
pub fn fingerprint(route: &str, body: &impl Serialize) -> String {
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(body).unwrap_or_default());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The stored response for this key, if the request was seen before.
pub async fn replay(
    tx: &mut TenantTx,
    key: &str,
    fingerprint: &str,
) -> Result<Option<Response>, ApiError> {
    let Some(stored) = idempotency::find(tx, key).await? else {
        return Ok(None);
    };
    if stored.request_hash != fingerprint {
        return Err(ApiError::field(
            "Idempotency-Key",
            "was already used with a different request",
        ));
    }
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut res = (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        stored.body,
    )
        .into_response();
    res.headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    Ok(Some(res))
}

/// Remembers the response (its stored form, without secrets) under the key.
pub async fn remember(
    tx: &mut TenantTx,
    key: &str,
    fingerprint: &str,
    status: StatusCode,
    stored_body: &impl Serialize,
) -> Result<(), ApiError> {
    let body = serde_json::to_string(stored_body).map_err(|e| ApiError::Internal(e.to_string()))?;
    idempotency::save(
        tx,
        key,
        &StoredResponse {
            request_hash: fingerprint.to_string(),
            status: status.as_u16(),
            body,
        },
    )
    .await
    .map_err(|e| match e {
        store::StoreError::Conflict(_) => ApiError::Conflict(
            "another request with this Idempotency-Key is in progress; retry it".into(),
        ),
        other => other.into(),
    })
}
