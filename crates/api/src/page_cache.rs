//! Rendered responses of tenant listings, kept until the data under them
//! changes.
//!
//! An entry remembers the [`Stamp`] of its tenant's topic at the moment its
//! data was read; it is served only while the topic still has that stamp, so
//! a write (here, or on another instance through PostgreSQL's notices) makes
//! it unreachable at once. Where other processes' writes go unannounced
//! (SQLite and the admin CLI), entries also expire after the store's bound.

use axum::body::Bytes;
use domain::TenantId;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use store::changes::{Stamp, Topic};

struct Entry {
    stamp: Stamp,
    stored: Instant,
    body: Bytes,
}

struct Inner {
    entries: HashMap<(TenantId, Topic, String), Entry>,
    bytes: usize,
}

/// Bodies of listing responses by tenant, topic and normalized query.
pub struct PageCache {
    max_bytes: usize,
    inner: RwLock<Inner>,
}

impl PageCache {
    /// A cache holding at most `max_bytes` of bodies; 0 turns it off.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            inner: RwLock::new(Inner {
                entries: HashMap::new(),
                bytes: 0,
            }),
        }
    }

    /// The body stored for this query if the topic is still at `stamp`.
    pub fn get(
        &self,
        tenant: TenantId,
        topic: Topic,
        query: &str,
        stamp: Stamp,
        max_age: Option<Duration>,
    ) -> Option<Bytes> {
        if self.max_bytes == 0 {
            return None;
        }
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let entry = inner.entries.get(&(tenant, topic, query.to_owned()))?;
        let fresh = max_age.is_none_or(|age| entry.stored.elapsed() < age);
        (entry.stamp == stamp && fresh).then(|| entry.body.clone())
    }

    /// Keeps a body read at `stamp`. When the cache is full it starts over:
    /// listings are cheap to render again, and this keeps it simple and bounded.
    pub fn put(&self, tenant: TenantId, topic: Topic, query: String, stamp: Stamp, body: Bytes) {
        if body.len() > self.max_bytes / 8 {
            return;
        }
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.bytes + body.len() > self.max_bytes {
            inner.entries.clear();
            inner.bytes = 0;
        }
        inner.bytes += body.len();
        let entry = Entry {
            stamp,
            stored: Instant::now(),
            body,
        };
        if let Some(old) = inner.entries.insert((tenant, topic, query), entry) {
            inner.bytes -= old.body.len();
        }
    }
}
