//! A fresh, migrated database per test.

use anyhow::Context;
use sqlx::{Connection, PgConnection, PgPool};
use store::{DbConfig, Store};

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A new database on the test PostgreSQL cluster, used through the
    /// runtime role `bizosaas_app` and migrated by `bizosaas_owner`.
    Postgres,
}

/// A database that exists for one test.
pub struct TestDb {
    /// How the app connects.
    pub config: DbConfig,
    /// Which backend.
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
    pg: Option<PgUrls>,
}

#[derive(Clone)]
struct PgUrls {
    admin: String,
    owner: String,
}

fn pg_admin_url() -> String {
    std::env::var("BIZOSAAS_TEST_PG_ADMIN_URL").expect(
        "BIZOSAAS_TEST_PG_ADMIN_URL is not set: PostgreSQL tests need the test cluster. \
         Run `scripts/test.sh` (or `scripts/services.sh` and source the env file it writes).",
    )
}

/// Replaces user and database of a PostgreSQL URL.
fn with_user_db(admin: &str, user: &str, password: &str, db: &str) -> anyhow::Result<String> {
    let rest = admin
        .strip_prefix("postgres://")
        .context("admin URL must start with postgres://")?;
    let host_and_db = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    let host = host_and_db.split('/').next().unwrap_or(host_and_db);
    Ok(format!("postgres://{user}:{password}@{host}/{db}"))
}

impl TestDb {
    /// Creates an empty database (not yet migrated).
    pub async fn create(db: Db) -> anyhow::Result<Self> {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Ok(Self {
                    config: DbConfig::new(url),
                    db,
                    _dir: Some(dir),
                    pg: None,
                })
            }
            Db::Postgres => {
                let admin = pg_admin_url();
                let name = format!("t_{}", uuid::Uuid::now_v7().simple());
                let mut conn = PgConnection::connect(&admin)
                    .await
                    .context("connecting to the test PostgreSQL")?;
                sqlx::raw_sql(&format!("CREATE DATABASE {name} OWNER bizosaas_owner"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                let owner = with_user_db(&admin, "bizosaas_owner", "owner", &name)?;
                let app = with_user_db(&admin, "bizosaas_app", "app", &name)?;
                let mut config = DbConfig::new(app);
                config.migration_url = Some(owner.clone());
                let admin_db = with_user_db(&admin, "postgres", "", &name)?;
                Ok(Self {
                    config,
                    db,
                    _dir: None,
                    pg: Some(PgUrls {
                        admin: admin_db,
                        owner,
                    }),
                })
            }
        }
    }

    /// A connected, migrated store.
    pub async fn store(&self) -> anyhow::Result<Store> {
        let store = Store::connect(&self.config).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// PostgreSQL: a raw pool as the runtime role, for isolation tests that
    /// bypass the repositories.
    pub async fn raw_app_pool(&self) -> anyhow::Result<PgPool> {
        Ok(PgPool::connect(&self.config.url).await?)
    }

    /// PostgreSQL: a raw pool as the superuser, to inspect what is stored.
    pub async fn raw_superuser_pool(&self) -> anyhow::Result<PgPool> {
        let pg = self.pg.as_ref().context("not a PostgreSQL test database")?;
        Ok(PgPool::connect(&pg.admin).await?)
    }

    /// PostgreSQL: sends the app's connections (not migrations) through a
    /// proxy the test can cut or stall, and returns it.
    pub async fn route_through_proxy(&mut self) -> anyhow::Result<crate::proxy::TcpProxy> {
        let proxy = crate::proxy::TcpProxy::start(self.host_port()?).await?;
        self.connect_at(proxy.port())?;
        Ok(proxy)
    }

    /// PostgreSQL: sends the app's connections (not migrations) through the
    /// test cluster's PgBouncer (transaction pooling, one server connection).
    pub fn route_through_pgbouncer(&mut self) -> anyhow::Result<()> {
        let port = std::env::var("BIZOSAAS_TEST_PGBOUNCER_PORT").context(
            "BIZOSAAS_TEST_PGBOUNCER_PORT is not set: run scripts/services.sh and source its env file",
        )?;
        self.connect_at(
            port.parse()
                .context("BIZOSAAS_TEST_PGBOUNCER_PORT is a port")?,
        )
    }

    /// PostgreSQL: the `host:port` the app's connections go to.
    fn host_port(&self) -> anyhow::Result<String> {
        Ok(self
            .config
            .url
            .rsplit_once('@')
            .and_then(|(_, rest)| rest.split('/').next())
            .context("a PostgreSQL URL with a host")?
            .to_string())
    }

    /// PostgreSQL: sends the app's connections to another local port.
    fn connect_at(&mut self, port: u16) -> anyhow::Result<()> {
        let host_port = self.host_port()?;
        self.config.url = self
            .config
            .url
            .replace(&host_port, &format!("127.0.0.1:{port}"));
        Ok(())
    }

    /// The same database for a second app (another process, in effect). The
    /// original must outlive it.
    pub fn share(&self) -> TestDb {
        TestDb {
            config: self.config.clone(),
            db: self.db,
            _dir: None,
            pg: self.pg.clone(),
        }
    }

    /// PostgreSQL: the owner role's URL.
    pub fn owner_url(&self) -> Option<&str> {
        self.pg.as_ref().map(|p| p.owner.as_str())
    }
}
