//! The one way to build and run BizOSaaS: from a configuration to a bound,
//! running server with its background work. `bizosaas serve` and the test
//! kit both go through [`App::build_with`]; tests only substitute parts
//! that cannot be configured (an in-memory outbox, a fresh database).

use crate::config::Config;
use crate::engine::{self, EngineParts, Running};
use anyhow::Context;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Parts that replace what the configuration would build.
#[derive(Default)]
pub struct Parts {
    /// An opened store (a test's fresh database) instead of connecting.
    pub store: Option<Store>,
    /// Application settings instead of those from the configuration.
    pub settings: Option<::app::Settings>,
    /// The secret store's backend instead of the configured one.
    pub secrets: Option<secrets::Backend>,
    /// Where email goes instead of SMTP or the outbox directory.
    pub email: Option<Arc<dyn domain::email::EmailSender>>,
    /// Single sign-on providers instead of the configured ones.
    pub sso: Option<Vec<auth::sso::ProviderConfig>>,
    /// The workflow engine's workflows, runner settings or Temporal cluster.
    pub engine: Option<EngineParts>,
}

/// The application, bound to its address and ready to serve.
pub struct App {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    router: axum::Router,
    state: ::app::App,
    store: Store,
    running: Running,
    tasks: TaskTracker,
    stop: CancellationToken,
    grace: Duration,
}

impl App {
    /// Builds the configured application.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, Parts::default()).await
    }

    /// Builds the application from the configuration and the given parts:
    /// migrates the database, starts the workflow engine, binds the address.
    pub async fn build_with(config: Config, parts: Parts) -> anyhow::Result<Self> {
        let store = match parts.store {
            Some(store) => store,
            None => open_store(&config).await?,
        };
        store.migrate().await.context("migration failed")?;
        if let Some(report) = store.security_report().await? {
            for problem in report.problems() {
                tracing::warn!(%problem, "tenant isolation is weakened; run `bizosaas doctor`");
            }
        }
        store.listen_for_changes().await;
        let settings = match parts.settings {
            Some(s) => s,
            None => config.settings()?,
        };
        let sso_providers = match parts.sso {
            Some(p) => p,
            None => config.sso_providers()?,
        };
        let email = match parts.email {
            Some(e) => e,
            None => config.email_sender()?,
        };
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let mut settings = settings;
        if settings.public_url.ends_with(":0") {
            // Port 0 was asked for: links in email point at the port given.
            settings.public_url = format!("http://{addr}");
        }
        let sso = auth::sso::Sso::new(sso_providers, &settings.public_url)?;
        let tasks = TaskTracker::new();
        let stop = CancellationToken::new();
        let engine_parts = parts
            .engine
            .unwrap_or_else(|| EngineParts::configured(&config));
        let secret_store = match parts.secrets {
            Some(backend) => secrets::open(
                &backend,
                &store,
                Duration::from_secs(config.secrets.cache_ttl_secs),
            )?,
            None => config.secret_store(&store)?,
        };
        let connectors = config.connectors();
        let running = engine::start(
            &config,
            &store,
            engine_parts,
            workflows::ConnectorEnv {
                secrets: secret_store.clone(),
                registry: connectors.clone(),
            },
            &tasks,
            &stop,
        )
        .await?;
        if let Some(path) = &config.ai.prices_file {
            let raw = std::fs::read_to_string(path)
                .with_context(|| format!("ai.prices_file: cannot read {}", path.display()))?;
            // Once per process: a second app in the same process (tests)
            // keeps the table the first one laid.
            if let Err(e) = ai::prices::load_overrides(&raw) {
                anyhow::ensure!(
                    e.contains("already in use"),
                    "ai.prices_file {}: {e}",
                    path.display()
                );
            }
        }
        let state = ::app::App::new(
            store.clone(),
            settings,
            email,
            secret_store,
            config.key_checker(),
            running.workflows.clone(),
        )
        .with_connectors(connectors);
        let state = match &config.redis.url {
            Some(url) => {
                let ledger = store::redis_ledger::RedisLedger::connect(
                    url,
                    &config.redis.key_prefix,
                    BUDGET_HOLD_LEASE,
                )
                .await
                .context("redis.url: cannot reach Redis for the model budgets")?;
                state.with_ledger(::app::budgets::Ledger::Redis(std::sync::Arc::new(ledger)))
            }
            None => state,
        };
        let router = api::router_with(state.clone(), portal::pages(state.clone(), sso));
        Ok(Self {
            listener,
            addr,
            router,
            state,
            store,
            running,
            tasks,
            stop,
            grace: Duration::from_secs(config.http.shutdown_grace_secs),
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The application state (for tests and benchmarks of its parts).
    pub fn state(&self) -> &::app::App {
        &self.state
    }

    /// The embedded workflow engine, when that is the one.
    pub fn embedded(&self) -> Option<workflows::embedded::EmbeddedEngine> {
        self.running.embedded.clone()
    }

    /// Takes the embedded runner out of the app's care (a test stops and
    /// starts it to play a crashed or restarted process).
    pub fn take_runner(&mut self) -> Option<workflows::embedded::RunnerHandle> {
        self.running.runner.take()
    }

    /// Serves until `shutdown` resolves. Then it stops accepting, gives
    /// in-flight requests the configured grace to finish, hands running
    /// workflow activities back (their leases end so another runner takes
    /// them), stops background tasks and closes the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            router,
            store,
            mut running,
            tasks,
            stop,
            grace,
            state,
            ..
        } = self;
        let stopping = stop.clone();
        let serve = api::listener::serve(listener, router, async move {
            shutdown.await;
            stopping.cancel();
        });
        let drained = async {
            stop.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            served = serve => served.context("the server failed")?,
            _ = drained => tracing::warn!(grace_secs = grace.as_secs(), "requests still running after the grace period were cut off"),
        }
        stop.cancel();
        if let Some(runner) = running.runner.take() {
            runner.shutdown().await;
        }
        tasks.close();
        if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
            tracing::warn!("background tasks did not stop in time");
        }
        // Gateway calls answered before the stop are recorded before the
        // database closes.
        if tokio::time::timeout(grace, state.gateway.meter.flush())
            .await
            .is_err()
        {
            tracing::warn!("gateway usage was still being written when the grace period ended");
        }
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// How long a budget hold in Redis lasts if its call never settles (its
/// instance died): longer than any answer may take.
const BUDGET_HOLD_LEASE: Duration = Duration::from_secs(15 * 60);

/// Connects to the configured database (creating the data directory for
/// the embedded SQLite default).
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.database.url.is_none() {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
    }
    Ok(Store::connect(&config.db_config()).await?)
}
