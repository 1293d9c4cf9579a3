//! Transactions scoped to one tenant: [`TenantTx`] for an authenticated
//! caller's work, [`SystemTx`] for the platform's own. A repository function
//! takes the one it is written for; the few that serve both are generic.

use crate::changes::{Changes, Topic, CHANNEL};
use crate::connect::{Pool, Store};
use crate::Result;
use domain::{Actor, Scoped, SystemScope, TenantId, TenantScope};
use sqlx::pool::PoolConnection;
use sqlx::{Postgres, Sqlite, Transaction};
use std::sync::Arc;

pub(crate) enum TxInner {
    Sqlite(Transaction<'static, Sqlite>),
    /// SQLite reads run without BEGIN/COMMIT: each statement is atomic, and
    /// it saves two round trips to SQLite's worker thread per read.
    SqliteRead(PoolConnection<Sqlite>),
    /// PostgreSQL reads and writes alike run in a transaction whose tenant
    /// is set with `set_config(.., true)` (SET LOCAL): a setting that ended
    /// with the session would outlive the client behind a transaction-mode
    /// PgBouncer and scope the next client's statements to this tenant.
    /// BEGIN and the setting go in one round trip.
    PostgresRead(Transaction<'static, Postgres>),
    Postgres(Transaction<'static, Postgres>),
}

/// A transaction in which every statement belongs to one tenant. On
/// PostgreSQL it has set `app.tenant_id`, so row-level security applies to
/// whatever it runs; repositories filter by the tenant on both backends.
pub struct Tx<S> {
    pub(crate) inner: TxInner,
    scope: S,
    changes: Arc<Changes>,
    /// Topics this transaction changed, announced when it commits.
    touched: Vec<Topic>,
}

/// Runs `$body` with `$c` bound to the transaction's connection, whichever
/// backend it is. The body is compiled once per backend.
macro_rules! with_conn {
    ($tx:expr, |$c:ident| $body:expr) => {
        match &mut $tx.inner {
            $crate::tx::TxInner::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::tx::TxInner::SqliteRead(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::tx::TxInner::PostgresRead(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::tx::TxInner::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use with_conn;

/// Runs `$body` with `$p` bound to the store's pool, whichever backend it
/// is, for the global tables that no tenant owns (users, identities,
/// pending registrations). The body is compiled once per backend.
macro_rules! with_pool {
    ($store:expr, |$p:ident| $body:expr) => {
        match &$store.pool {
            $crate::connect::Pool::Sqlite($p) => $body,
            $crate::connect::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use with_pool;

impl Store {
    /// Starts a read-only unit of work for a tenant: autocommit statements
    /// on a connection scoped to the tenant (each statement sees a consistent
    /// snapshot; listings page by id, so pages stay consistent across them).
    /// Anything that writes uses [`Store::write`].
    pub async fn read(&self, scope: &TenantScope) -> Result<TenantTx> {
        self.begin(*scope, false).await
    }

    /// Starts a transaction that will write. On SQLite it takes the write
    /// lock up front, so it waits its turn instead of failing half way.
    pub async fn write(&self, scope: &TenantScope) -> Result<TenantTx> {
        self.begin(*scope, true).await
    }

    /// Like [`Store::read`], for the platform's own work on a tenant.
    pub async fn system_read(&self, scope: &SystemScope) -> Result<SystemTx> {
        self.begin(*scope, false).await
    }

    /// Like [`Store::write`], for the platform's own work on a tenant.
    pub async fn system_write(&self, scope: &SystemScope) -> Result<SystemTx> {
        self.begin(*scope, true).await
    }

    async fn begin<S: Scoped>(&self, scope: S, write: bool) -> Result<Tx<S>> {
        let inner = match &self.pool {
            Pool::Sqlite(p) if write => TxInner::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Sqlite(p) => TxInner::SqliteRead(p.acquire().await?),
            Pool::Postgres(p) => {
                // A tenant id is a UUID, so it is safe to write into the
                // statement; one simple query both begins and scopes.
                let mode = if write { "BEGIN" } else { "BEGIN READ ONLY" };
                let tx = p
                    .begin_with(format!(
                        "{mode}; SELECT set_config('app.tenant_id', '{}', true)",
                        scope.tenant().as_uuid()
                    ))
                    .await?;
                if write {
                    TxInner::Postgres(tx)
                } else {
                    TxInner::PostgresRead(tx)
                }
            }
        };
        Ok(Tx {
            inner,
            scope,
            changes: self.changes.clone(),
            touched: Vec::new(),
        })
    }
}

pub(crate) async fn set_local(
    tx: &mut Transaction<'static, Postgres>,
    name: &str,
    value: &str,
) -> Result<()> {
    sqlx::query("SELECT set_config($1, $2, true)")
        .bind(name)
        .bind(value)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A transaction for an authenticated caller; what tenant repositories take.
pub type TenantTx = Tx<TenantScope>;

/// A transaction for the platform's own work on one tenant. The functions
/// written for such work take it:
///
/// ```no_run
/// # async fn purge(store: &store::Store, t: domain::TenantId) -> store::Result<()> {
/// let job = domain::SystemScope::new(t, domain::SystemJob::Maintenance);
/// let mut tx = store.system_write(&job).await?;
/// store::sessions::purge_ended(&mut tx, chrono::Utc::now()).await?;
/// # Ok(()) }
/// ```
///
/// and the tenant repositories refuse it:
///
/// ```compile_fail
/// # async fn peek(store: &store::Store, t: domain::TenantId) -> store::Result<()> {
/// let job = domain::SystemScope::new(t, domain::SystemJob::Maintenance);
/// let mut tx = store.system_write(&job).await?;
/// store::memberships::list(&mut tx, None, domain::paging::Limit::parse(None).unwrap()).await?;
/// # Ok(()) }
/// ```
///
/// as the maintenance functions refuse a member's transaction:
///
/// ```compile_fail
/// # async fn purge(store: &store::Store, who: domain::Principal) -> store::Result<()> {
/// let mut tx = store.write(&who.scope()).await?;
/// store::sessions::purge_ended(&mut tx, chrono::Utc::now()).await?;
/// # Ok(()) }
/// ```
pub type SystemTx = Tx<SystemScope>;

impl<S: Scoped> Tx<S> {
    /// What this transaction acts for.
    pub fn scope(&self) -> &S {
        &self.scope
    }

    /// The tenant whose rows it touches.
    pub fn tenant(&self) -> TenantId {
        self.scope.tenant()
    }

    /// Who is recorded as acting.
    pub fn actor(&self) -> Actor {
        self.scope.actor()
    }

    /// Whether this runs on SQLite (for the rare query whose SQL differs).
    pub(crate) fn is_sqlite(&self) -> bool {
        matches!(self.inner, TxInner::Sqlite(_) | TxInner::SqliteRead(_))
    }

    /// Marks a topic as changed by this transaction (see [`crate::changes`]).
    pub(crate) fn touch(&mut self, topic: Topic) {
        if !self.touched.contains(&topic) {
            self.touched.push(topic);
        }
    }

    /// Makes the changes permanent and announces what changed.
    pub async fn commit(self) -> Result<()> {
        let tenant = self.scope.tenant();
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::SqliteRead(_) => {}
            TxInner::PostgresRead(t) => t.commit().await?,
            TxInner::Postgres(mut t) => {
                if !self.touched.is_empty() {
                    // Queued by PostgreSQL and delivered only if the commit succeeds.
                    let payloads: Vec<String> = self
                        .touched
                        .iter()
                        .map(|&topic| self.changes.payload(tenant, topic))
                        .collect();
                    sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
                        .bind(CHANNEL)
                        .bind(payloads)
                        .execute(&mut *t)
                        .await?;
                }
                t.commit().await?
            }
        }
        for topic in self.touched {
            self.changes.bump(tenant, topic);
        }
        Ok(())
    }
}

/// Fetches at most one row by the hash of a presented secret (API token,
/// session, invitation link), before any tenant is known. On PostgreSQL the
/// hash goes into `app.token_hash`, which is the one keyed lookup the tables'
/// RLS policies allow; `sql` binds it as `$1` too.
pub(crate) async fn fetch_by_hash<R>(
    store: &Store,
    sql: &'static str,
    hash: &str,
) -> Result<Option<R>>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    Ok(match &store.pool {
        Pool::Sqlite(p) => sqlx::query_as(sql).bind(hash).fetch_optional(p).await?,
        Pool::Postgres(p) => {
            let mut tx = p.begin().await?;
            set_local(&mut tx, "app.token_hash", hash).await?;
            let row = sqlx::query_as(sql)
                .bind(hash)
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            row
        }
    })
}
