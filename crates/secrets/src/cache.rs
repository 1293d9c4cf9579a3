//! A short-lived in-memory cache in front of a secret store, for the hot
//! path (a chat request reading its tenant's provider key).
//!
//! An entry is served only while its tenant's `Secrets` topic keeps the
//! stamp it was read at ([`store::changes`]): every change to a key's
//! reference touches that topic in its transaction, so a revocation clears
//! the entry here at once and on every other instance as soon as
//! PostgreSQL's notice arrives; while notices may go unheard the cache
//! stands aside. Entries also expire after `ttl` whatever happens (and on
//! SQLite after the bound of [`store::changes::Changes::still_current`]).

use domain::secrets::{Secret, SecretFuture, SecretPath, SecretStore};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use store::changes::{Stamp, Topic};
use store::Store;

struct Entry {
    stamp: Stamp,
    secret: Secret,
}

/// A [`SecretStore`] that remembers what it read.
pub struct CachedStore {
    inner: Arc<dyn SecretStore>,
    store: Store,
    ttl: Duration,
    entries: RwLock<HashMap<SecretPath, Entry>>,
}

const MAX_ENTRIES: usize = 10_000;

impl CachedStore {
    /// Caches `inner` for at most `ttl` per entry (zero turns caching off).
    pub fn new(inner: Arc<dyn SecretStore>, store: Store, ttl: Duration) -> Self {
        Self {
            inner,
            store,
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    fn forget(&self, path: &SecretPath) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(path);
    }
}

impl SecretStore for CachedStore {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn put<'a>(&'a self, path: &'a SecretPath, secret: &'a Secret) -> SecretFuture<'a, ()> {
        Box::pin(async move {
            self.forget(path);
            self.inner.put(path, secret).await
        })
    }

    fn get<'a>(&'a self, path: &'a SecretPath) -> SecretFuture<'a, Secret> {
        Box::pin(async move {
            if self.ttl.is_zero() {
                return self.inner.get(path).await;
            }
            let (tenant, changes) = (path.tenant(), self.store.changes());
            if let Some(e) = self
                .entries
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(path)
            {
                if e.stamp.age() < self.ttl
                    && changes.still_current(&e.stamp, tenant, Topic::Secrets)
                {
                    return Ok(e.secret.clone());
                }
            }
            // Taken before reading, so a revocation meanwhile outdates what is read.
            let Some(stamp) = changes.stamp(tenant, Topic::Secrets) else {
                return self.inner.get(path).await;
            };
            let secret = self.inner.get(path).await?;
            let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(
                path.clone(),
                Entry {
                    stamp,
                    secret: secret.clone(),
                },
            );
            Ok(secret)
        })
    }

    fn delete<'a>(&'a self, path: &'a SecretPath) -> SecretFuture<'a, ()> {
        Box::pin(async move {
            self.forget(path);
            let result = self.inner.delete(path).await;
            self.forget(path);
            result
        })
    }

    fn check(&self) -> SecretFuture<'_, Vec<String>> {
        self.inner.check()
    }
}
