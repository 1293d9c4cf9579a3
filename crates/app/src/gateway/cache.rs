//! What the gateway would otherwise read from the database on every
//! request: a tenant's provider client for a service and its budget. An
//! entry is served only while its tenant's topic keeps the stamp it was
//! read at ([`store::changes`]): adding, replacing or revoking a key, or
//! setting the budget, drops it at once on this instance and, through
//! PostgreSQL's notices, on the others; while notices may go unheard the
//! cache stands aside. No entry outlives `ttl` whatever happens.

use domain::TenantId;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::Duration;
use store::changes::{Changes, Stamp, Topic};

/// Most entries kept; past it the cache starts over (it refills on use).
const MAX_ENTRIES: usize = 10_000;

/// Values of one topic, each for one tenant, keyed by `K`.
pub struct StampedCache<K, V> {
    topic: Topic,
    ttl: Duration,
    entries: RwLock<HashMap<(TenantId, K), (Stamp, V)>>,
}

impl<K: Eq + Hash, V: Clone> StampedCache<K, V> {
    /// An empty cache of `topic`'s values, each kept at most `ttl`.
    pub fn new(topic: Topic, ttl: Duration) -> Self {
        Self {
            topic,
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The value for `(tenant, key)`, if still current.
    pub fn get(&self, changes: &Changes, tenant: TenantId, key: K) -> Option<V> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let (stamp, v) = entries.get(&(tenant, key))?;
        (stamp.age() < self.ttl && changes.still_current(stamp, tenant, self.topic))
            .then(|| v.clone())
    }

    /// The stamp to read a value at, taken before reading it, so a change
    /// made meanwhile makes the entry stale rather than wrong; `None` when
    /// nothing may be cached now.
    pub fn stamp(&self, changes: &Changes, tenant: TenantId) -> Option<Stamp> {
        if self.ttl.is_zero() {
            return None;
        }
        changes.stamp(tenant, self.topic)
    }

    /// Keeps a value read at `stamp`.
    pub fn put(&self, stamp: Stamp, tenant: TenantId, key: K, v: V) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert((tenant, key), (stamp, v));
    }
}
