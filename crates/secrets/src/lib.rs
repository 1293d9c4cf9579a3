//! Secret stores behind the [`domain::secrets::SecretStore`] port: Vault /
//! OpenBao ([`vault`]) and the local sealed store ([`local`]), with a
//! revocation-aware cache ([`cache`]) in front of either.

pub mod cache;
pub mod local;
pub mod vault;

use domain::secrets::{SecretStore, SecretStoreError};
use std::sync::Arc;
use std::time::Duration;
use store::{Store, StoreError};

/// Errors of configuring and maintaining secret stores.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Configuration is wrong or a key file unusable.
    #[error("secret store configuration: {0}")]
    Config(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The secret store failed.
    #[error(transparent)]
    Secret(#[from] SecretStoreError),
}

/// Which store holds the secrets.
#[derive(Clone, Debug)]
pub enum Backend {
    /// The local sealed store.
    Local(local::keyring::KeySource),
    /// Vault or OpenBao.
    Vault(vault::VaultConfig),
}

/// Opens the configured store, with the cache in front (`cache_ttl`).
pub fn open(
    backend: &Backend,
    store: &Store,
    cache_ttl: Duration,
) -> Result<Arc<dyn SecretStore>, SecretsError> {
    let inner: Arc<dyn SecretStore> = match backend {
        Backend::Local(source) => Arc::new(local::LocalStore::open(store.clone(), source.clone())?),
        Backend::Vault(config) => vault::VaultStore::new(config.clone())?,
    };
    Ok(Arc::new(cache::CachedStore::new(
        inner,
        store.clone(),
        cache_ttl,
    )))
}
