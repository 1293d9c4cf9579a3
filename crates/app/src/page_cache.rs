//! Rendered responses of tenant listings, kept until the data under them
//! changes.
//!
//! An entry remembers the [`Stamp`] of its tenant's topic at the moment its
//! data was read, and is served only while [`Changes::still_current`] says
//! so: a write (here, or on another instance through PostgreSQL's notices)
//! makes it unreachable at once.

use bytes::Bytes;
use domain::TenantId;
use std::collections::HashMap;
use std::sync::RwLock;
use store::changes::{Changes, Stamp, Topic};

struct Entry {
    stamp: Stamp,
    body: Bytes,
}

#[derive(Default)]
struct Inner {
    /// By tenant and topic, then by normalized query (looked up by `&str`).
    entries: HashMap<(TenantId, Topic), HashMap<String, Entry>>,
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
            inner: RwLock::new(Inner::default()),
        }
    }

    /// The body stored for this query, if its data is unchanged since.
    pub fn get(
        &self,
        tenant: TenantId,
        topic: Topic,
        query: &str,
        changes: &Changes,
    ) -> Option<Bytes> {
        if self.max_bytes == 0 {
            return None;
        }
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let entry = inner.entries.get(&(tenant, topic))?.get(query)?;
        changes
            .still_current(&entry.stamp, tenant, topic)
            .then(|| entry.body.clone())
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
        let old = inner
            .entries
            .entry((tenant, topic))
            .or_default()
            .insert(query, Entry { stamp, body });
        if let Some(old) = old {
            inner.bytes -= old.body.len();
        }
    }
}
