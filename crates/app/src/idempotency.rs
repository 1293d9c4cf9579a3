//! `Idempotency-Key` for creating operations: the first result under a key
//! is stored in the same transaction as the change, and a retry with the
//! same key and the same command gets that result back instead of a second
//! resource.

use crate::AppError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use store::idempotency::{self, StoredResponse};
use store::TenantTx;

/// The result of a creating operation, and whether it was a replay of an
/// earlier one under the same key (then it holds what was stored: never a
/// secret).
#[derive(Debug)]
pub struct Created<T> {
    /// What was created.
    pub value: T,
    /// True when an earlier request with the same key created it.
    pub replayed: bool,
}

impl<T> Created<T> {
    /// A resource created now.
    pub fn new(value: T) -> Self {
        Self {
            value,
            replayed: false,
        }
    }
}

/// Checks a key: 1 to 255 visible ASCII characters.
pub fn parse_key(raw: &[u8]) -> Result<String, AppError> {
    std::str::from_utf8(raw)
        .ok()
        .filter(|s| (1..=255).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .ok_or_else(|| {
            AppError::field(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })
}

/// A fingerprint of the command a key was first used with.
pub fn fingerprint(operation: &str, command: &impl Serialize) -> String {
    let mut h = Sha256::new();
    h.update(operation.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(command).unwrap_or_default());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The stored result for this key, if the command was seen before.
pub async fn replay<T: DeserializeOwned>(
    tx: &mut TenantTx,
    key: &str,
    fingerprint: &str,
) -> Result<Option<Created<T>>, AppError> {
    let Some(stored) = idempotency::find(tx, key).await? else {
        return Ok(None);
    };
    if stored.request_hash != fingerprint {
        return Err(AppError::field(
            "Idempotency-Key",
            "was already used with a different request",
        ));
    }
    let value = serde_json::from_str(&stored.body).map_err(|e| {
        AppError::Internal(format!("a stored idempotent result is unreadable: {e}"))
    })?;
    Ok(Some(Created {
        value,
        replayed: true,
    }))
}

/// Remembers the result (its stored form, without secrets) under the key.
pub async fn remember(
    tx: &mut TenantTx,
    key: &str,
    fingerprint: &str,
    stored: &impl Serialize,
) -> Result<(), AppError> {
    let body = serde_json::to_string(stored).map_err(|e| AppError::Internal(e.to_string()))?;
    idempotency::save(
        tx,
        key,
        &StoredResponse {
            request_hash: fingerprint.to_string(),
            // Every idempotent operation creates; kept for stored rows' shape.
            status: 201,
            body,
        },
    )
    .await
    .map_err(|e| match e {
        store::StoreError::Conflict(_) => AppError::Conflict(
            "another request with this Idempotency-Key is in progress; retry it".into(),
        ),
        other => other.into(),
    })
}
