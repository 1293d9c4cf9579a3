//! The real app on a random port.

use crate::db::{Db, TestDb};
use anyhow::Context;
use domain::tokens::Scope;
use domain::validation::DisplayName;
use domain::TenantId;
use reqwest::{Client, RequestBuilder};
use store::{tenants, tokens as token_repo, Store};
use tokio::sync::oneshot;

/// The password of members made by [`TestApp::member`].
pub const MEMBER_PASSWORD: &str = "member password 123";

/// A running app and its database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The store the app uses.
    pub store: Store,
    /// The database (shared with the instances [`TestApp::restart`] makes).
    pub db: std::sync::Arc<TestDb>,
    /// An HTTP client.
    pub client: Client,
    state: app::App,
    /// Email the app sent.
    pub outbox: std::sync::Arc<crate::MemoryOutbox>,
    /// The LLM providers the app checks keys with.
    pub llm: crate::llm::ProviderSim,
    /// Where the local sealed store's master key file is.
    pub keys_dir: tempfile::TempDir,
    /// The workflow engine the app uses.
    pub workflows: std::sync::Arc<dyn domain::workflows::WorkflowEngine>,
    /// The embedded engine, when that is the one (to stop and start its runner).
    pub embedded: Option<workflows::embedded::EmbeddedEngine>,
    /// Its runner, while this app executes runs.
    runner: Option<workflows::embedded::RunnerHandle>,
    /// The Temporal worker, when the engine is Temporal.
    temporal_worker: Option<crate::temporal::WorkerThread>,
    /// The data directory (workflow exports land here).
    pub data_dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
}

/// What the app's workflow engine runs, and how.
pub struct WorkflowSetup {
    /// Workflows and activities (default: the built-in ones).
    pub registry: workflows::Registry,
    /// Runner settings (default: quick polls, short leases).
    pub runner: workflows::embedded::RunnerConfig,
    /// Run on Temporal instead, with a worker in this process.
    pub temporal: Option<workflows::temporal::TemporalConfig>,
}

impl Default for WorkflowSetup {
    fn default() -> Self {
        Self {
            registry: workflows::builtin::registry(),
            runner: workflows::embedded::RunnerConfig {
                poll: std::time::Duration::from_millis(50),
                lease: std::time::Duration::from_secs(3),
                ..Default::default()
            },
            temporal: None,
        }
    }
}

/// A tenant with an admin token.
#[derive(Clone, Debug)]
pub struct TestTenant {
    /// Its id.
    pub id: TenantId,
    /// Its slug.
    pub slug: String,
    /// A personal admin token of the tenant's owner (`owner@<slug>.test`):
    /// it may do everything, including what only owners may.
    pub token: String,
}

impl TestApp {
    /// Starts the app on a fresh database of the given backend.
    pub async fn spawn(db: Db) -> anyhow::Result<Self> {
        Self::spawn_with(TestDb::create(db).await?, app::Settings::default()).await
    }

    /// Starts the app on a given database and HTTP settings.
    pub async fn spawn_with(db: TestDb, config: app::Settings) -> anyhow::Result<Self> {
        Self::spawn_full(db, config, vec![]).await
    }

    /// Starts the app with single sign-on providers too.
    pub async fn spawn_full(
        db: TestDb,
        config: app::Settings,
        sso: Vec<auth::sso::ProviderConfig>,
    ) -> anyhow::Result<Self> {
        Self::spawn_all(db, config, sso, None).await
    }

    /// Starts the app with its secrets in Vault / OpenBao.
    pub async fn spawn_with_vault(
        db: Db,
        vault: secrets::vault::VaultConfig,
    ) -> anyhow::Result<Self> {
        let db = TestDb::create(db).await?;
        Self::spawn_all(
            db,
            app::Settings::default(),
            vec![],
            Some(secrets::Backend::Vault(vault)),
        )
        .await
    }

    /// Starts the app with these workflows and runner settings.
    pub async fn spawn_with_workflows(db: TestDb, setup: WorkflowSetup) -> anyhow::Result<Self> {
        Self::launch(db, app::Settings::default(), vec![], None, setup, None).await
    }

    /// Starts the app with its model budgets in the test Redis
    /// (scripts/services.sh starts it).
    pub async fn spawn_with_redis(db: Db) -> anyhow::Result<Self> {
        let url = std::env::var("BIZOSAAS_TEST_REDIS_URL").expect(
            "BIZOSAAS_TEST_REDIS_URL is not set: run scripts/services.sh and source its env",
        );
        let db = TestDb::create(db).await?;
        Self::launch(
            db,
            app::Settings::default(),
            vec![],
            None,
            WorkflowSetup::default(),
            Some(url),
        )
        .await
    }

    /// Starts the app; secrets in the local sealed store unless `secrets` says otherwise.
    pub async fn spawn_all(
        db: TestDb,
        config: app::Settings,
        sso: Vec<auth::sso::ProviderConfig>,
        secrets: Option<secrets::Backend>,
    ) -> anyhow::Result<Self> {
        Self::launch(db, config, sso, secrets, WorkflowSetup::default(), None).await
    }

    async fn launch(
        db: TestDb,
        config: app::Settings,
        sso: Vec<auth::sso::ProviderConfig>,
        secrets: Option<secrets::Backend>,
        setup: WorkflowSetup,
        redis: Option<String>,
    ) -> anyhow::Result<Self> {
        Self::launch_on(std::sync::Arc::new(db), config, sso, secrets, setup, redis).await
    }

    async fn launch_on(
        db: std::sync::Arc<TestDb>,
        config: app::Settings,
        sso: Vec<auth::sso::ProviderConfig>,
        secrets: Option<secrets::Backend>,
        setup: WorkflowSetup,
        redis: Option<String>,
    ) -> anyhow::Result<Self> {
        let store = db.store().await?;
        let outbox = std::sync::Arc::new(crate::MemoryOutbox::default());
        let llm = crate::llm::ProviderSim::start().await?;
        let keys_dir = tempfile::tempdir()?;
        let data_dir = tempfile::tempdir()?;
        let backend = secrets.unwrap_or_else(|| {
            secrets::Backend::Local(secrets::local::keyring::KeySource::File(
                keys_dir.path().join("master.key"),
            ))
        });
        let mut settings = config;
        if settings.public_url == app::Settings::default().public_url {
            // Links (email, single sign-on) point at the port the app gets.
            settings.public_url = "http://127.0.0.1:0".into();
        }
        let endpoints = llm.endpoints();
        let mut config = bizosaas::config::Config {
            listen: "127.0.0.1:0".into(),
            data_dir: data_dir.path().to_path_buf(),
            ..Default::default()
        };
        config.ai.openai_base_url = endpoints.openai;
        config.ai.anthropic_base_url = endpoints.anthropic;
        config.ai.openrouter_base_url = endpoints.openrouter;
        config.ai.allow_private_endpoints = endpoints.allow_private_endpoints;
        config.ai.local_url = std::env::var("BIZOSAAS_TEST_LLM_URL").ok();
        config.redis.url = redis;
        let registry = std::sync::Arc::new(setup.registry);
        let temporal_worker = setup.temporal.as_ref().map(|temporal| {
            crate::temporal::WorkerThread::spawn(
                temporal.clone(),
                registry.clone(),
                db.config.clone(),
                data_dir.path().to_path_buf(),
                Some(backend.clone()),
            )
        });
        let mut built = bizosaas::App::build_with(
            config,
            bizosaas::startup::Parts {
                store: Some(store.clone()),
                settings: Some(settings),
                secrets: Some(backend),
                email: Some(outbox.clone()),
                sso: Some(sso),
                engine: Some(bizosaas::engine::EngineParts {
                    registry,
                    runner: setup.runner,
                    temporal: setup.temporal,
                }),
            },
        )
        .await?;
        let base = format!("http://{}", built.addr());
        let state = built.state().clone();
        let engine = state.workflows.clone();
        let embedded = built.embedded();
        let runner = built.take_runner();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(built.run_until_stopped(async move {
            let _ = rx.await;
        }));
        Ok(Self {
            base,
            store,
            db,
            client: Client::new(),
            state,
            outbox,
            llm,
            keys_dir,
            workflows: engine,
            embedded,
            runner,
            temporal_worker,
            data_dir,
            stop: Some(tx),
        })
    }

    /// Stops this app's server, as a stopped process would, and starts a new
    /// one on the same database and master key: nothing held in memory
    /// survives (caches, the usage writer, streams). The new one has a
    /// provider simulator of its own, which knows no keys yet.
    pub async fn restart(&mut self) -> anyhow::Result<TestApp> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let key = self.keys_dir.path().join("master.key");
        Self::launch_on(
            self.db.clone(),
            app::Settings::default(),
            vec![],
            Some(secrets::Backend::Local(
                secrets::local::keyring::KeySource::File(key),
            )),
            WorkflowSetup::default(),
            None,
        )
        .await
    }

    /// Ends this app's runner abruptly, as a killed process would: nothing
    /// is handed back, its leases run out.
    pub fn kill_runner(&mut self) {
        drop(self.runner.take());
        drop(self.temporal_worker.take());
    }

    /// Starts executing workflow runs here again.
    pub fn start_runner(&mut self) {
        if let (None, Some(e)) = (&self.runner, &self.embedded) {
            self.runner = Some(e.spawn_runner());
        }
    }

    /// Stops executing workflow runs here, as a stopped process would
    /// (runs in flight are handed back).
    pub async fn stop_runner(&mut self) {
        if let Some(r) = self.runner.take() {
            r.shutdown().await;
        }
    }

    /// Registers through the API and follows the emailed link, as a person
    /// would; returns the response of the confirmation (a session on 201).
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        tenant: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let started = self
            .client
            .post(self.url("/auth/register"))
            .json(
                &serde_json::json!({ "email": email, "password": password, "tenant_name": tenant }),
            )
            .send()
            .await?;
        if started.status() != reqwest::StatusCode::ACCEPTED {
            return Ok(started);
        }
        let token = self
            .outbox
            .last_to(&email.to_ascii_lowercase())
            .and_then(|m| {
                let at = m.body.find("token=")? + "token=".len();
                Some(m.body[at..].split_whitespace().next()?.to_string())
            })
            .context("no confirmation link was emailed")?;
        Ok(self
            .client
            .post(self.url("/auth/register/confirm"))
            .json(&serde_json::json!({ "token": token }))
            .send()
            .await?)
    }

    /// A headless Chromium pointed at the app.
    pub async fn chrome(&self) -> anyhow::Result<crate::e2e::Chrome> {
        crate::e2e::Chrome::start(&self.base).await
    }

    /// A browser-like client for the portal's pages.
    pub fn browser(&self) -> crate::Browser {
        crate::Browser::new(&self.base)
    }

    /// The state the app serves with (for benchmarks of its parts).
    pub fn state(&self) -> app::App {
        self.state.clone()
    }

    /// The full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request with a bearer token.
    pub fn request(&self, method: reqwest::Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// `GET` with a token.
    pub fn get(&self, path: &str, token: &str) -> RequestBuilder {
        self.request(reqwest::Method::GET, path, token)
    }

    /// `GET` with a token, returning the JSON body.
    pub async fn get_json(&self, path: &str, token: &str) -> anyhow::Result<serde_json::Value> {
        Ok(self.get(path, token).send().await?.json().await?)
    }

    /// `GET` with a token, returning the status.
    pub async fn get_status(&self, path: &str, token: &str) -> anyhow::Result<reqwest::StatusCode> {
        Ok(self.get(path, token).send().await?.status())
    }

    /// Creates a tenant and its owner, as `bizosaas admin` does, with a
    /// personal admin token of the owner.
    pub async fn tenant(&self, name: &str) -> anyhow::Result<TestTenant> {
        let t = tenants::create(
            &self.store,
            &DisplayName::parse(name).map_err(anyhow::Error::msg)?,
        )
        .await?;
        let email = domain::validation::Email::parse(&format!("owner@{}.test", t.slug))
            .map_err(anyhow::Error::msg)?;
        let label = DisplayName::parse("Owner").map_err(anyhow::Error::msg)?;
        let hash = auth::password::hash(MEMBER_PASSWORD);
        let mut tx = self
            .store
            .write(&domain::Principal::operator(t.id).scope())
            .await?;
        let owner =
            store::users::create(&mut tx, domain::UserId::new(), &email, &label, &hash).await?;
        store::memberships::add(&mut tx, owner.id, domain::roles::Role::Owner).await?;
        tx.commit().await?;
        let as_owner = domain::Principal::member(t.id, owner.id, domain::roles::Role::Owner);
        let mut tx = self.store.write(&as_owner.scope()).await?;
        let (_, secret) = token_repo::issue_kind(
            &mut tx,
            domain::tokens::TokenKind::Personal,
            &label,
            &[Scope::Admin],
            Default::default(),
        )
        .await?;
        tx.commit().await?;
        let token = secret.plaintext;
        Ok(TestTenant {
            id: t.id,
            slug: t.slug,
            token,
        })
    }

    /// Adds a user with `role` to a tenant (as `bizosaas admin create-user`
    /// does) and signs them in; returns their session token.
    pub async fn member(
        &self,
        tenant: TenantId,
        email: &str,
        role: domain::roles::Role,
    ) -> anyhow::Result<String> {
        let email = domain::validation::Email::parse(email).map_err(anyhow::Error::msg)?;
        let name = DisplayName::parse("Member").map_err(anyhow::Error::msg)?;
        let hash = auth::password::hash(MEMBER_PASSWORD);
        let mut tx = self
            .store
            .write(&domain::Principal::operator(tenant).scope())
            .await?;
        let user =
            store::users::create(&mut tx, domain::UserId::new(), &email, &name, &hash).await?;
        store::memberships::add(&mut tx, user.id, role).await?;
        tx.commit().await?;
        self.member_session(tenant, email.as_str()).await
    }

    /// Signs a member created by [`TestApp::member`] in again.
    pub async fn member_session(&self, tenant: TenantId, email: &str) -> anyhow::Result<String> {
        let slug = store::tenants::find(&self.store, &tenant.to_string())
            .await?
            .context("tenant")?
            .slug;
        let res: serde_json::Value = self
            .client
            .post(self.url("/auth/login"))
            .json(
                &serde_json::json!({ "email": email, "password": MEMBER_PASSWORD, "tenant": slug }),
            )
            .send()
            .await?
            .json()
            .await?;
        res["session"]
            .as_str()
            .map(str::to_string)
            .context(format!("sign-in failed: {res}"))
    }

    /// Stores an LLM provider key for the tenant of `token` (an admin's)
    /// through the API, the provider simulator accepting it first.
    pub async fn add_llm_key(&self, token: &str, service: &str, key: &str) -> anyhow::Result<()> {
        self.llm.accept(key);
        let res = self
            .request(
                reqwest::Method::POST,
                &format!("/api/v1/vault/keys/{service}"),
                token,
            )
            .json(&serde_json::json!({ "api_key": key }))
            .send()
            .await?;
        anyhow::ensure!(
            res.status().is_success(),
            "the key was not stored: {}",
            res.text().await?
        );
        Ok(())
    }

    /// Another token for a tenant, with the given scopes.
    pub async fn token_for(&self, tenant: TenantId, scopes: &[Scope]) -> anyhow::Result<String> {
        let mut tx = self
            .store
            .write(&domain::Principal::operator(tenant).scope())
            .await?;
        let name = DisplayName::parse("test").map_err(anyhow::Error::msg)?;
        let (_, secret) = token_repo::issue(&mut tx, &name, scopes, Default::default())
            .await
            .context("issuing token")?;
        tx.commit().await?;
        Ok(secret.plaintext)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
