//! Connecting to the configured backend and migrating it.

use crate::changes::Changes;
use crate::{Result, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub(crate) static SQLITE_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("./migrations/sqlite");
pub(crate) static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("./migrations/postgres");

/// Database settings.
#[derive(Clone, Debug)]
pub struct DbConfig {
    /// `sqlite://path` or `postgres://…`: the runtime connection.
    pub url: String,
    /// PostgreSQL only: the owner role's URL used to migrate; defaults to `url`.
    pub migration_url: Option<String>,
    /// Pool size.
    pub max_connections: u32,
    /// How long a request waits for a connection before the database counts as unavailable.
    pub acquire_timeout: Duration,
}

impl DbConfig {
    /// Settings for a URL with the default pool.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            migration_url: None,
            max_connections: default_pool_size(),
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

/// Twice the cores, within 4..=32: on the 2-core machines of the benchmarks a
/// pool of 16 made more database work contend for the same cores and tripled
/// the listing's p99 on PostgreSQL compared with 4 (BENCHMARKS.md).
pub fn default_pool_size() -> u32 {
    std::thread::available_parallelism().map_or(8, |n| (n.get() as u32 * 2).clamp(4, 32))
}

/// Which database is connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// Its name in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: Pool,
    migration_url: Option<String>,
    pub(crate) changes: Arc<Changes>,
    /// PostgreSQL: the pool of the change-notice listener, once it runs.
    pub(crate) listener: Arc<OnceLock<PgPool>>,
}

/// Connection pool occupancy, for the `/metrics` gauges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Of which idle.
    pub idle: u32,
    /// Configured maximum.
    pub max: u32,
}

/// The database file and its WAL and shared-memory files are this user's
/// alone (SQLite gives the WAL files the database file's mode): created
/// 0600 before SQLite opens it, and tightened when an older one is looser.
fn private_sqlite_files(url: &str) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let path = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:")
            .split('?')
            .next()
            .unwrap_or("");
        if path.is_empty() || path == ":memory:" || path.starts_with("file:") {
            return Ok(());
        }
        let io = |e: std::io::Error| StoreError::Config(format!("cannot open {path}: {e}"));
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        for file in [
            path.to_string(),
            format!("{path}-wal"),
            format!("{path}-shm"),
        ] {
            if std::path::Path::new(&file).exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(io)?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = url;
    Ok(())
}

impl Store {
    /// Opens a pool for the configured URL. Connections are made lazily for
    /// PostgreSQL, so a server that is down now does not stop start-up.
    pub async fn connect(config: &DbConfig) -> Result<Self> {
        let url = config.url.as_str();
        let pool = if url.starts_with("sqlite:") {
            disable_sqlite_memstatus();
            private_sqlite_files(url)?;
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("bad SQLite URL: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
                .pragma("temp_store", "memory")
                // A page is up to 200 rows plus one; with the default of 50
                // the worker thread stalls mid-page waiting for the reader.
                .row_buffer_size(256);
            let pool = SqlitePoolOptions::new()
                .max_connections(config.max_connections)
                .min_connections(1)
                .acquire_timeout(config.acquire_timeout)
                .connect_with(opts)
                .await?;
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?
                .application_name("bizosaas");
            let pool = PgPoolOptions::new()
                .max_connections(config.max_connections)
                .acquire_timeout(config.acquire_timeout)
                .connect_lazy_with(opts);
            Pool::Postgres(pool)
        } else {
            return Err(StoreError::Config(format!(
                "unsupported database URL scheme in `{}` (expected sqlite: or postgres:)",
                redact_url(url)
            )));
        };
        Ok(Self {
            changes: Arc::new(Changes::new(matches!(pool, Pool::Postgres(_)))),
            pool,
            migration_url: config.migration_url.clone(),
            listener: Arc::new(OnceLock::new()),
        })
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations: with the migration (owner) URL on
    /// PostgreSQL when one is configured, else with the runtime pool.
    pub async fn migrate(&self) -> Result<()> {
        match (&self.pool, &self.migration_url) {
            (Pool::Sqlite(p), _) => SQLITE_MIGRATIONS.run(p).await?,
            (Pool::Postgres(p), None) => POSTGRES_MIGRATIONS.run(p).await?,
            (Pool::Postgres(_), Some(owner)) => {
                let opts = PgConnectOptions::from_str(owner)
                    .map_err(|e| StoreError::Config(format!("bad migration URL: {e}")))?;
                let owner_pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(opts)
                    .await?;
                let result = POSTGRES_MIGRATIONS.run(&owner_pool).await;
                owner_pool.close().await;
                result?
            }
        }
        Ok(())
    }

    /// Pool occupancy.
    pub fn pool_stats(&self) -> PoolStats {
        match &self.pool {
            Pool::Sqlite(p) => PoolStats {
                size: p.size(),
                idle: p.num_idle() as u32,
                max: p.options().get_max_connections(),
            },
            Pool::Postgres(p) => PoolStats {
                size: p.size(),
                idle: p.num_idle() as u32,
                max: p.options().get_max_connections(),
            },
        }
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
        if let Some(listener) = self.listener.get() {
            listener.close().await;
        }
    }
}

/// SQLite keeps allocation statistics by default, taking one process-wide
/// mutex on every allocation; with a pool of connections on several threads
/// that mutex was the largest cost of a listing (futex waits in
/// `sqlite3_value_dup`). Nothing here reads those statistics, so they are
/// switched off before SQLite initializes.
fn disable_sqlite_memstatus() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config is only allowed before sqlite3_initialize;
        // called later it returns SQLITE_MISUSE and changes nothing, which
        // costs only the optimisation. It reads no pointers.
        unsafe {
            libsqlite3_sys::sqlite3_config(
                libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS,
                0 as std::os::raw::c_int,
            );
        }
    });
}

/// A URL with its password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}
