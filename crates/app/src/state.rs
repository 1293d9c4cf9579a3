//! The application state every use case works on.

use crate::access::TokenCache;
use crate::metrics::Metrics;
use crate::page_cache::PageCache;
use ai::providers::KeyChecker;
use domain::email::EmailSender;
use domain::secrets::SecretStore;
use domain::workflows::WorkflowEngine;
use std::sync::Arc;
use std::time::Duration;
use store::Store;

/// Settings of the application (from the configuration).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long a request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// How long a verified API token is trusted without asking the database.
    /// Bounds how long a revocation takes to reach other instances.
    pub token_cache_ttl: Duration,
    /// Bytes of rendered listing pages kept until their data changes (0: off).
    pub page_cache_bytes: usize,
    /// Whether anyone may register a new account and tenant.
    pub registration_open: bool,
    /// Absolute lifetime of a session.
    pub session_lifetime: chrono::TimeDelta,
    /// A session unused for longer than this has ended.
    pub session_idle: chrono::TimeDelta,
    /// Failed sign-ins in a row that lock an account.
    pub lockout_after: i32,
    /// How long a locked account stays locked.
    pub lockout_for: chrono::TimeDelta,
    /// Sign-in attempts allowed per minute from one address.
    pub login_attempts_per_minute: u32,
    /// The address users reach this instance at, for links in email.
    pub public_url: String,
    /// How long an invitation link works.
    pub invitation_lifetime: chrono::TimeDelta,
    /// Tokens (tenant and personal) a tenant may hold unrevoked at once.
    pub max_active_tokens: u32,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            token_cache_ttl: Duration::from_secs(10),
            page_cache_bytes: 16 * 1024 * 1024,
            registration_open: true,
            session_lifetime: chrono::TimeDelta::hours(12),
            session_idle: chrono::TimeDelta::hours(2),
            lockout_after: 20,
            lockout_for: chrono::TimeDelta::minutes(15),
            login_attempts_per_minute: 60,
            public_url: "http://127.0.0.1:8000".into(),
            invitation_lifetime: chrono::TimeDelta::days(7),
            max_active_tokens: 500,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The application: its adapters, caches and settings. One shared
/// allocation, so a clone (axum makes several per request) is a single
/// reference count, not one per part.
#[derive(Clone)]
pub struct App(Arc<Parts>);

impl std::ops::Deref for App {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// The parts of the application, read through [`App`].
#[derive(Clone)]
pub struct Parts {
    /// The database.
    pub store: Store,
    /// Prometheus registry.
    pub metrics: Arc<Metrics>,
    /// Verified tokens.
    pub tokens: Arc<TokenCache>,
    /// Rendered listing pages.
    pub(crate) pages: Arc<PageCache>,
    /// Settings.
    pub config: Arc<Settings>,
    /// Sign-in attempts per address.
    pub(crate) login_throttle: Arc<crate::throttle::Throttle>,
    /// Outgoing email (invitations).
    pub email: Arc<dyn EmailSender>,
    /// Tenants' secrets (provider keys, connector credentials).
    pub secrets: Arc<dyn SecretStore>,
    /// Checks provider keys with their providers.
    pub providers: Arc<KeyChecker>,
    /// Makes model clients for tenants' keys (chat).
    pub models: ai::chat::Models,
    /// Starts and steers workflow runs (the embedded runner or Temporal).
    pub workflows: Arc<dyn WorkflowEngine>,
    /// The OpenAI-compatible gateway's caches and usage writer.
    pub gateway: Arc<crate::gateway::Gateway>,
    /// Where model budget holds are kept.
    pub ledger: crate::budgets::Ledger,
    /// The connectors, with the HTTP machinery and rate-limit gates they share.
    pub connectors: connectors::Registry,
}

/// The workflow engine the app uses, and the metrics its runs report.
#[derive(Clone)]
pub struct Workflows {
    /// The engine.
    pub engine: Arc<dyn WorkflowEngine>,
    /// Its metrics, served at `/metrics` with the app's.
    pub metrics: workflows::WorkflowMetrics,
}

/// The longest the gateway keeps a tenant's provider client or budget
/// without reading it again (changes reach it sooner: see its cache).
const GATEWAY_CACHE_TTL: Duration = Duration::from_secs(60);

impl App {
    /// The same application with its budget holds kept in `ledger`.
    pub fn with_ledger(mut self, ledger: crate::budgets::Ledger) -> Self {
        Arc::make_mut(&mut self.0).ledger = ledger;
        self
    }

    /// The same application with these connectors (shared with the
    /// workflow engine's syncs, so both honour the same rate-limit pauses).
    pub fn with_connectors(mut self, registry: connectors::Registry) -> Self {
        Arc::make_mut(&mut self.0).connectors = registry;
        self
    }

    /// The application around its adapters.
    pub fn new(
        store: Store,
        config: Settings,
        email: Arc<dyn EmailSender>,
        secrets: Arc<dyn SecretStore>,
        providers: KeyChecker,
        workflows: Workflows,
    ) -> Self {
        let connectors = crate::connectors::registry(providers.endpoints().allow_private_endpoints);
        Self(Arc::new(Parts {
            email,
            secrets,
            models: ai::chat::Models::new(
                providers.endpoints().clone(),
                ai::chat::call::CallPolicy::default(),
                &config.public_url,
            ),
            providers: Arc::new(providers),
            metrics: Arc::new(Metrics::new(&workflows.metrics)),
            workflows: workflows.engine,
            tokens: Arc::new(TokenCache::new(config.token_cache_ttl)),
            gateway: Arc::new(crate::gateway::Gateway::new(GATEWAY_CACHE_TTL)),
            ledger: crate::budgets::Ledger::Database,
            connectors,
            pages: Arc::new(PageCache::new(config.page_cache_bytes)),
            login_throttle: Arc::new(crate::throttle::Throttle::new(
                config.login_attempts_per_minute,
                Duration::from_secs(60),
            )),
            store,
            config: Arc::new(config),
        }))
    }
}
