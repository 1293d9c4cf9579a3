//! Change notices: which tenant's data of which kind changed, so that caches
//! in front of the database know when what they hold is out of date.
//!
//! A write transaction marks the topics it touched ([`TenantTx::touch`]); when
//! it commits they are announced. In this process the generation of
//! (tenant, topic) goes up at once, so a client reads its own writes. On
//! PostgreSQL the transaction also sends `NOTIFY bizosaas_changes` just before
//! its commit (PostgreSQL delivers it only if the commit happens), and every
//! instance running [`Store::listen_for_changes`] bumps its generations too.
//! While that listener is not connected nothing can be known about other
//! instances, so [`Changes::stamp`] answers `None` and caches stand aside.
//!
//! [`TenantTx::touch`]: crate::TenantTx::touch

use crate::connect::{Pool, Store};
use domain::TenantId;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// The PostgreSQL channel change notices travel on.
pub const CHANNEL: &str = "bizosaas_changes";

/// A kind of tenant data that something caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// The audit log.
    AuditLog,
    /// Stored secrets and their references (provider keys).
    Secrets,
    /// The monthly model budget.
    Budgets,
}

impl Topic {
    fn as_str(self) -> &'static str {
        match self {
            Topic::AuditLog => "audit_log",
            Topic::Secrets => "secrets",
            Topic::Budgets => "budgets",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "audit_log" => Some(Topic::AuditLog),
            "secrets" => Some(Topic::Secrets),
            "budgets" => Some(Topic::Budgets),
            _ => None,
        }
    }
}

/// The version of one tenant's topic that a cached value was read at, and
/// when.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    epoch: u64,
    generation: u64,
    taken: Instant,
}

impl Stamp {
    /// How long ago it was taken.
    pub fn age(&self) -> Duration {
        self.taken.elapsed()
    }
}

/// Generations of every (tenant, topic) this process has seen change.
#[derive(Debug)]
pub struct Changes {
    generations: RwLock<HashMap<(TenantId, Topic), u64>>,
    /// Goes up whenever notices may have been missed; invalidates every stamp.
    epoch: AtomicU64,
    /// Whether every change that can happen is announced to this process.
    complete: AtomicBool,
    /// How long a cached value may be trusted when changes by other processes
    /// are not announced at all (SQLite: the admin CLI on the same file).
    unannounced_for: Option<Duration>,
    /// Tags this store's notices: its own come back from PostgreSQL after
    /// they were applied at commit, and a second bump would outdate what
    /// was cached in between for nothing.
    origin: u64,
}

impl Changes {
    pub(crate) fn new(backend_announces: bool) -> Self {
        Self {
            generations: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            // Until a PostgreSQL listener runs, other instances are unheard.
            complete: AtomicBool::new(!backend_announces),
            unannounced_for: (!backend_announces).then_some(Duration::from_secs(1)),
            origin: rand_origin(),
        }
    }

    /// The current version of a tenant's topic, or `None` when changes may go
    /// unheard (PostgreSQL listener not connected): then do not cache.
    pub fn stamp(&self, tenant: TenantId, topic: Topic) -> Option<Stamp> {
        if !self.complete.load(Ordering::Acquire) {
            return None;
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let generation = self
            .generations
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(tenant, topic))
            .copied()
            .unwrap_or(0);
        Some(Stamp {
            epoch,
            generation,
            taken: Instant::now(),
        })
    }

    /// Whether a value read at `then` may still be served: its tenant's
    /// topic has not changed since, changes can be heard now, and where
    /// other processes' writes go unannounced it is younger than that bound.
    pub fn still_current(&self, then: &Stamp, tenant: TenantId, topic: Topic) -> bool {
        self.stamp(tenant, topic).is_some_and(|now| {
            now.epoch == then.epoch
                && now.generation == then.generation
                && self.unannounced_for.is_none_or(|bound| then.age() < bound)
        })
    }

    /// Records that a tenant's topic changed.
    pub(crate) fn bump(&self, tenant: TenantId, topic: Topic) {
        *self
            .generations
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry((tenant, topic))
            .or_insert(0) += 1;
    }

    /// Invalidates every stamp handed out so far.
    fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    fn set_complete(&self, complete: bool) {
        self.complete.store(complete, Ordering::Release);
        self.forget_all();
    }

    fn apply(&self, payload: &str) {
        let mut fields = payload.split(' ');
        let tenant = fields.next().and_then(|t| uuid::Uuid::parse_str(t).ok());
        let topic = fields.next().and_then(Topic::parse);
        let origin = fields.next().and_then(|o| o.parse::<u64>().ok());
        match (tenant, topic) {
            // Already applied when this store's transaction committed.
            _ if origin == Some(self.origin) => {}
            (Some(tenant), Some(topic)) => self.bump(TenantId::from_uuid(tenant), topic),
            // A notice from a newer version: unknown, so assume anything changed.
            _ => self.forget_all(),
        }
    }

    /// The notice payload for a tenant's topic changed by this store.
    pub(crate) fn payload(&self, tenant: TenantId, topic: Topic) -> String {
        format!("{} {} {}", tenant.as_uuid(), topic.as_str(), self.origin)
    }
}

/// A tag unique to this store among those listening.
fn rand_origin() -> u64 {
    let id = uuid::Uuid::now_v7().as_u128();
    (id as u64) ^ ((id >> 64) as u64)
}

impl Store {
    /// Change notices of this process (and, once listening, of others).
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// On PostgreSQL, hears the change notices of every instance until the
    /// store is closed, reconnecting after a lost connection (with caches
    /// standing aside meanwhile). Returns once the first attempt to listen
    /// has succeeded or failed. Nothing to do on SQLite.
    pub async fn listen_for_changes(&self) {
        let Pool::Postgres(pool) = &self.pool else {
            return;
        };
        // Its own pool of one, so listening takes no connection from requests;
        // closing the store closes it, which ends the task.
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(2))
            .connect_lazy_with((*pool.connect_options()).clone());
        if self.listener.set(listen_pool.clone()).is_err() {
            return; // already listening
        }
        let changes = self.changes.clone();
        let (first_tx, first_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut first = Some(first_tx);
            let mut backoff = Duration::from_millis(100);
            loop {
                let result = listen(&listen_pool, &changes, &mut first).await;
                if let Some(f) = first.take() {
                    let _ = f.send(());
                }
                match result {
                    Err(sqlx::Error::PoolClosed) => break,
                    Ok(()) => backoff = Duration::from_millis(100),
                    Err(e) => {
                        tracing::warn!(error = %e, "change notices unavailable; caches bypassed until the listener reconnects");
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
                changes.set_complete(false);
                tokio::time::sleep(backoff).await;
            }
        });
        let _ = first_rx.await;
    }
}

/// One listening connection's life: returns when it is lost.
async fn listen(
    pool: &PgPool,
    changes: &Changes,
    listening: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection ends this listener (notices may have been missed in
    // between); the caller starts a fresh one.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    changes.set_complete(true);
    if let Some(l) = listening.take() {
        let _ = l.send(());
    }
    tracing::debug!("listening for change notices");
    while let Some(n) = listener.try_recv().await? {
        changes.apply(n.payload());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId::from_uuid(uuid::Uuid::now_v7())
    }

    #[test]
    fn a_bump_outdates_that_tenant_and_topic_only() {
        let changes = Changes::new(true);
        changes.set_complete(true);
        let (a, b) = (tenant(), tenant());
        let (a_log, b_log) = (
            changes.stamp(a, Topic::AuditLog).unwrap(),
            changes.stamp(b, Topic::AuditLog).unwrap(),
        );
        let a_secrets = changes.stamp(a, Topic::Secrets).unwrap();
        changes.bump(a, Topic::AuditLog);
        assert!(!changes.still_current(&a_log, a, Topic::AuditLog));
        assert!(changes.still_current(&b_log, b, Topic::AuditLog));
        assert!(changes.still_current(&a_secrets, a, Topic::Secrets));
    }

    #[test]
    fn a_notice_outdates_the_named_tenant_and_an_unreadable_one_everything() {
        let changes = Changes::new(true);
        changes.set_complete(true);
        let (a, b) = (tenant(), tenant());
        let then_a = changes.stamp(a, Topic::Secrets).unwrap();
        let then_b = changes.stamp(b, Topic::Secrets).unwrap();
        let elsewhere = Changes::new(true);
        changes.apply(&elsewhere.payload(a, Topic::Secrets));
        assert!(!changes.still_current(&then_a, a, Topic::Secrets));
        assert!(changes.still_current(&then_b, b, Topic::Secrets));
        changes.apply("something from a newer release");
        assert!(!changes.still_current(&then_b, b, Topic::Secrets));
    }

    #[test]
    fn a_stores_own_notice_coming_back_changes_nothing() {
        let changes = Changes::new(true);
        changes.set_complete(true);
        let a = tenant();
        changes.bump(a, Topic::AuditLog); // at commit
        let cached = changes.stamp(a, Topic::AuditLog).unwrap();
        changes.apply(&changes.payload(a, Topic::AuditLog)); // the echo
        assert!(changes.still_current(&cached, a, Topic::AuditLog));
        changes.apply(&format!("{} audit_log", a.as_uuid())); // an older release's notice
        assert!(!changes.still_current(&cached, a, Topic::AuditLog));
    }

    #[test]
    fn without_a_listener_postgresql_values_are_never_current() {
        let changes = Changes::new(true);
        assert!(changes.stamp(tenant(), Topic::AuditLog).is_none());
        changes.set_complete(true);
        let t = tenant();
        let then = changes.stamp(t, Topic::AuditLog).unwrap();
        assert!(changes.still_current(&then, t, Topic::AuditLog));
        changes.set_complete(false);
        assert!(!changes.still_current(&then, t, Topic::AuditLog));
    }

    #[test]
    fn where_writes_go_unannounced_a_value_is_current_for_a_second_at_most() {
        let changes = Changes::new(false);
        let t = tenant();
        let mut then = changes.stamp(t, Topic::AuditLog).unwrap();
        assert!(changes.still_current(&then, t, Topic::AuditLog));
        then.taken -= Duration::from_secs(2);
        assert!(!changes.still_current(&then, t, Topic::AuditLog));
    }
}
