//! The port for secrets: tenants' provider keys and connector credentials
//! live behind [`SecretStore`] (Vault/OpenBao, or the local sealed store),
//! never in the database. Values are [`SecretString`]s: not `Debug`-printed,
//! wiped from memory when dropped.

use crate::TenantId;
pub use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// Where a secret lives: `tenants/{tenant_id}/api_keys/{provider}` or
/// `tenants/{tenant_id}/connections/{connection_id}`. Always inside one tenant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretPath {
    tenant: TenantId,
    path: String,
}

impl SecretPath {
    /// The path of a tenant's key for an LLM provider (`openai`, …).
    pub fn api_key(tenant: TenantId, provider: &str) -> Result<Self, String> {
        Self::tenant_path(tenant, "api_keys", provider)
    }

    /// The path of a tenant's connector credentials.
    pub fn connection(tenant: TenantId, connection: uuid::Uuid) -> Self {
        Self {
            tenant,
            path: format!("tenants/{}/connections/{connection}", tenant.as_uuid()),
        }
    }

    fn tenant_path(tenant: TenantId, kind: &str, name: &str) -> Result<Self, String> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok {
            return Err("must be 1 to 64 lowercase letters, digits, `-` or `_`".into());
        }
        Ok(Self {
            tenant,
            path: format!("tenants/{}/{kind}/{name}", tenant.as_uuid()),
        })
    }

    /// Parses a stored path back, checking it belongs to `tenant`.
    pub fn parse(tenant: TenantId, path: &str) -> Result<Self, String> {
        let prefix = format!("tenants/{}/", tenant.as_uuid());
        let rest = path
            .strip_prefix(&prefix)
            .ok_or_else(|| "the path belongs to another tenant".to_string())?;
        match rest.split_once('/') {
            Some(("api_keys", name)) => Self::tenant_path(tenant, "api_keys", name),
            Some(("connections", id)) => uuid::Uuid::parse_str(id)
                .map(|id| Self::connection(tenant, id))
                .map_err(|_| "a connection path ends in its UUID".to_string()),
            _ => Err(format!("`{path}` is not a secret path")),
        }
    }

    /// The tenant the secret belongs to.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for SecretPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

/// A secret: named fields whose values never show in `Debug` output.
#[derive(Clone, Default)]
pub struct Secret {
    fields: BTreeMap<String, SecretString>,
}

impl Secret {
    /// A secret of one field.
    pub fn single(name: &str, value: SecretString) -> Self {
        let mut s = Self::default();
        s.insert(name, value);
        s
    }

    /// Adds or replaces a field.
    pub fn insert(&mut self, name: &str, value: SecretString) {
        self.fields.insert(name.to_string(), value);
    }

    /// A field's value.
    pub fn get(&self, name: &str) -> Option<&SecretString> {
        self.fields.get(name)
    }

    /// Every field.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &SecretString)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Why a secret operation failed. Never carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    /// The store cannot be reached or is sealed: try again later.
    #[error("secret store unavailable: {0}")]
    Unavailable(String),
    /// The store refused our credentials or the operation.
    #[error("secret store refused the request: {0}")]
    Denied(String),
    /// Nothing is stored at the path.
    #[error("no secret stored at {0}")]
    NotFound(String),
    /// A stored ciphertext failed authentication: it was altered.
    #[error(
        "the secret at {0} failed its integrity check (tampered or sealed with an unknown key)"
    )]
    Tampered(String),
    /// Anything else the store reported.
    #[error("secret store error: {0}")]
    Other(String),
}

/// The boxed future every [`SecretStore`] method returns.
pub type SecretFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, SecretStoreError>> + Send + 'a>>;

/// Keeps secrets. Adapters: HashiCorp Vault / OpenBao (KV v2) and the local
/// sealed store (AES-256-GCM, ciphertext in the database).
pub trait SecretStore: Send + Sync {
    /// The adapter's name for messages and metrics (`vault`, `local`).
    fn name(&self) -> &'static str;

    /// Stores a secret, replacing what was there.
    fn put<'a>(&'a self, path: &'a SecretPath, secret: &'a Secret) -> SecretFuture<'a, ()>;

    /// Reads a secret.
    fn get<'a>(&'a self, path: &'a SecretPath) -> SecretFuture<'a, Secret>;

    /// Destroys a secret: every version and its metadata. Deleting what is
    /// not there succeeds.
    fn delete<'a>(&'a self, path: &'a SecretPath) -> SecretFuture<'a, ()>;

    /// Checks the store end to end: reachable, authenticated, a write, read
    /// and delete round trip at a scratch path. Returns what was checked.
    fn check(&self) -> SecretFuture<'_, Vec<String>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_its_values_in_debug_output() {
        let s = Secret::single("api_key", SecretString::from("sk-very-secret"));
        let shown = format!("{s:?}");
        assert!(shown.contains("api_key"));
        assert!(!shown.contains("sk-very-secret"));
    }

    #[test]
    fn paths_stay_inside_their_tenant() {
        let t = TenantId::from_uuid(uuid::Uuid::now_v7());
        let other = TenantId::from_uuid(uuid::Uuid::now_v7());
        let p = SecretPath::api_key(t, "openai").unwrap();
        assert_eq!(
            p.as_str(),
            format!("tenants/{}/api_keys/openai", t.as_uuid())
        );
        assert_eq!(SecretPath::parse(t, p.as_str()).unwrap(), p);
        assert!(SecretPath::parse(other, p.as_str()).is_err());
        assert!(SecretPath::api_key(t, "../../other").is_err());
    }
}
