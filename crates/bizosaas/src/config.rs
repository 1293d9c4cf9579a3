//! Configuration: defaults, then `bizosaas.toml`, then `BIZOS_*` variables
//! (and the ecosystem's `DATABASE_URL`), then command-line flags.

use anyhow::Context;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for Loki).
    Json,
}

/// Database settings (`[database]`, `BIZOS_DATABASE_*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Runtime URL; defaults to a SQLite file in the data dir. `DATABASE_URL` also sets it.
    pub url: Option<String>,
    /// PostgreSQL owner-role URL used for migrations; defaults to `url`.
    pub migration_url: Option<String>,
    /// Pool size.
    pub max_connections: u32,
    /// Seconds to wait for a pooled connection.
    pub acquire_timeout_secs: u64,
}

/// HTTP settings (`[http]`, `BIZOS_HTTP_*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Seconds before a request is cut off.
    pub request_timeout_secs: u64,
    /// Seconds a verified API token is trusted without a database lookup.
    pub token_cache_ttl_secs: u64,
    /// Bytes of rendered listing pages kept until their data changes; 0 turns the cache off.
    pub page_cache_bytes: usize,
    /// Reverse proxies (CIDRs or addresses) whose `Forwarded` and
    /// `X-Forwarded-For` headers are believed; nobody's by default.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Seconds in-flight requests get to finish after a stop signal.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_secs: u64,
}

fn default_shutdown_grace() -> u64 {
    10
}

/// Sign-in settings (`[auth]`, `BIZOS_AUTH_*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Anyone may register an account and tenant; otherwise invitation only.
    pub registration_open: bool,
    /// Hours a session lasts at most.
    pub session_hours: i64,
    /// Minutes without a request after which a session ends.
    pub session_idle_minutes: i64,
    /// Failed sign-ins in a row that lock an account.
    pub lockout_after: i32,
    /// Minutes an account stays locked.
    pub lockout_minutes: i64,
    /// Sign-in attempts allowed per minute from one address.
    pub login_attempts_per_minute: u32,
    /// Unrevoked API tokens a tenant may hold at once.
    #[serde(default = "default_max_active_tokens")]
    pub max_active_tokens: u32,
}

fn default_max_active_tokens() -> u32 {
    500
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            registration_open: true,
            session_hours: 12,
            session_idle_minutes: 120,
            lockout_after: 20,
            lockout_minutes: 15,
            login_attempts_per_minute: 60,
            max_active_tokens: default_max_active_tokens(),
        }
    }
}

/// Outgoing email (`[email]`, `BIZOS_EMAIL_*`). Without `smtp_url`,
/// messages are written to `<data_dir>/outbox` instead of being sent.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// `smtp://host:port` or `smtps://host:port`.
    pub smtp_url: Option<String>,
    /// Sender, e.g. `BizOSaaS <no-reply@example.com>`.
    pub from: Option<String>,
    /// SMTP login.
    pub smtp_username: Option<String>,
    /// SMTP password (prefer `BIZOS_EMAIL_SMTP_PASSWORD` to the file).
    pub smtp_password: Option<String>,
}

/// One OAuth client at a provider.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    /// Client id.
    pub client_id: String,
    /// Client secret (prefer the `BIZOS_SSO_*_CLIENT_SECRET` variable to the file).
    pub client_secret: String,
    /// Microsoft only: the Entra ID directory (tenant id or domain).
    pub directory: Option<String>,
}

/// Any other OpenID Connect issuer (`[[sso.oidc]]`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcIssuer {
    /// Path segment and stored name, e.g. `okta`.
    pub id: String,
    /// Button label.
    pub label: String,
    /// Issuer URL.
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
}

/// Single sign-on (`[sso.google]`, `[sso.microsoft]`, `[sso.github]`,
/// `[[sso.oidc]]`; `BIZOS_SSO_GOOGLE_CLIENT_ID` and so on). A provider not
/// configured is not offered.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoConfig {
    /// Google.
    pub google: Option<OAuthClient>,
    /// Microsoft Entra ID.
    pub microsoft: Option<OAuthClient>,
    /// GitHub.
    pub github: Option<OAuthClient>,
    /// Other issuers.
    #[serde(default)]
    pub oidc: Vec<OidcIssuer>,
}

/// Which secret store holds tenants' secrets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretsBackendKind {
    /// The local sealed store (embedded default).
    #[default]
    Local,
    /// HashiCorp Vault or OpenBao.
    Vault,
}

/// Secrets (`[secrets]`, `BIZOS_SECRETS_*`). The master key itself is never
/// configured here: it is the key file, or `BIZOS_MASTER_KEY`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// `local` or `vault`.
    pub backend: SecretsBackendKind,
    /// The local store's master key file (default `<data_dir>/master.key`).
    pub master_key_file: Option<PathBuf>,
    /// Seconds a read secret may be served from memory (revocations clear it sooner).
    pub cache_ttl_secs: u64,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            backend: SecretsBackendKind::Local,
            master_key_file: None,
            cache_ttl_secs: 60,
        }
    }
}

/// Vault / OpenBao (`[vault]`; the standard `VAULT_ADDR`, `VAULT_KV_MOUNT`,
/// `VAULT_ROLE_ID`). The token (`VAULT_TOKEN`) and AppRole secret id
/// (`VAULT_SECRET_ID`) are read from the environment only.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultSection {
    /// Server address.
    pub addr: Option<String>,
    /// KV v2 mount.
    pub kv_mount: String,
    /// AppRole role id (with `VAULT_SECRET_ID`); without it, `VAULT_TOKEN` is used.
    pub role_id: Option<String>,
    /// AppRole auth mount.
    pub approle_mount: String,
    /// Seconds per request.
    pub timeout_secs: u64,
}

impl Default for VaultSection {
    fn default() -> Self {
        Self {
            addr: None,
            kv_mount: "secret".into(),
            role_id: None,
            approle_mount: "approle".into(),
            timeout_secs: 5,
        }
    }
}

/// Redis (`[redis]`, `BIZOS_REDIS_*`): with a URL, model budgets are held
/// there, so every instance shares them; without, in the database.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:port/db`.
    pub url: Option<String>,
    /// Prefix of every key, so instances of different deployments can share
    /// a Redis.
    #[serde(default = "default_redis_prefix")]
    pub key_prefix: String,
}

fn default_redis_prefix() -> String {
    "bizosaas:".into()
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            key_prefix: default_redis_prefix(),
        }
    }
}

/// LLM providers (`[ai]`, `BIZOS_AI_*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiConfig {
    /// OpenAI API base.
    pub openai_base_url: String,
    /// Anthropic API base.
    pub anthropic_base_url: String,
    /// OpenRouter API base.
    pub openrouter_base_url: String,
    /// Allow OpenAI-compatible endpoints over http or on private addresses
    /// (self-hosted model servers on your network).
    pub allow_private_endpoints: bool,
    /// The platform's own OpenAI-compatible model server, offered to every
    /// tenant as the `local` provider with no key (e.g. llama.cpp's
    /// `llama-server` at `http://127.0.0.1:8089/v1`). Unset: none.
    pub local_url: Option<String>,
    /// A price table laid over the shipped one (same JSON shape as
    /// `crates/ai/catalog/prices.json`), for models it lacks or prices
    /// that changed.
    #[serde(default)]
    pub prices_file: Option<std::path::PathBuf>,
}

impl Default for AiConfig {
    fn default() -> Self {
        let e = ai::providers::Endpoints::default();
        Self {
            openai_base_url: e.openai,
            anthropic_base_url: e.anthropic,
            openrouter_base_url: e.openrouter,
            allow_private_endpoints: e.allow_private_endpoints,
            local_url: e.local,
            prices_file: None,
        }
    }
}

/// Which engine runs workflows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// In this process, on the application's database.
    Embedded,
    /// On a Temporal cluster, with `bizosaas worker` processes.
    Temporal,
}

/// The Temporal cluster (`[temporal]`; the standard `TEMPORAL_ADDRESS`,
/// `TEMPORAL_NAMESPACE`, `TEMPORAL_TASK_QUEUE`, `TEMPORAL_TLS`,
/// `TEMPORAL_TLS_CA`, `TEMPORAL_TLS_CERT`, `TEMPORAL_TLS_KEY`). The Temporal
/// Cloud API key (`TEMPORAL_API_KEY`) is read from the environment only.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemporalSection {
    /// Frontend `host:port`.
    pub address: String,
    /// Namespace.
    pub namespace: String,
    /// Task queue of workers and runs.
    pub task_queue: String,
    /// Connect with TLS (implied by an API key or any of the files below).
    pub tls: bool,
    /// PEM of the CA that signed the cluster's certificate (a private CA).
    pub tls_ca: Option<std::path::PathBuf>,
    /// PEM of this client's certificate, for mutual TLS.
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM of its private key.
    pub tls_key: Option<std::path::PathBuf>,
}

impl Default for TemporalSection {
    fn default() -> Self {
        Self {
            address: "127.0.0.1:7233".into(),
            namespace: "default".into(),
            task_queue: workflows::temporal::TASK_QUEUE.into(),
            tls: false,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl TemporalSection {
    /// Client and worker settings.
    pub fn client_config(&self) -> workflows::temporal::TemporalConfig {
        workflows::temporal::TemporalConfig {
            address: self.address.clone(),
            namespace: self.namespace.clone(),
            task_queue: self.task_queue.clone(),
            api_key: std::env::var("TEMPORAL_API_KEY")
                .ok()
                .filter(|k| !k.is_empty())
                .map(Into::into),
            tls: self.tls,
            tls_files: workflows::temporal::TlsFiles {
                ca: self.tls_ca.clone(),
                cert: self.tls_cert.clone(),
                key: self.tls_key.clone(),
            },
        }
    }
}

/// Durable workflows (`[workflows]`, `BIZOS_WORKFLOWS_*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowsConfig {
    /// `embedded` (default) or `temporal`.
    pub engine: EngineKind,
    /// Runs one process executes at once (embedded).
    pub concurrency: usize,
    /// Runs of one tenant executing at once, across processes (embedded).
    pub per_tenant: usize,
    /// Seconds a worker's claim lasts without a heartbeat; a crashed
    /// process's runs are taken up after this (embedded).
    pub lease_secs: u64,
    /// Milliseconds between looks for work other processes queued (embedded).
    pub poll_ms: u64,
    /// Cron expression (seconds first, UTC) of the daily purge of expired
    /// sessions, invitations and idempotency keys.
    pub purge_cron: String,
}

impl Default for WorkflowsConfig {
    fn default() -> Self {
        let r = workflows::embedded::RunnerConfig::default();
        Self {
            engine: EngineKind::Embedded,
            concurrency: r.concurrency,
            per_tenant: r.per_tenant,
            lease_secs: r.lease.as_secs(),
            poll_ms: r.poll.as_millis() as u64,
            purge_cron: "0 30 3 * * *".into(),
        }
    }
}

impl WorkflowsConfig {
    /// The embedded runner's settings.
    pub fn runner(&self) -> workflows::embedded::RunnerConfig {
        workflows::embedded::RunnerConfig {
            concurrency: self.concurrency.max(1),
            per_tenant: self.per_tenant.max(1),
            lease: std::time::Duration::from_secs(self.lease_secs.max(1)),
            poll: std::time::Duration::from_millis(self.poll_ms.max(10)),
        }
    }
}

/// The whole configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Where embedded data lives.
    pub data_dir: PathBuf,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter (`RUST_LOG` syntax).
    pub log_level: String,
    /// Database.
    pub database: DatabaseConfig,
    /// HTTP.
    pub http: HttpConfig,
    /// Sign-in.
    pub auth: AuthConfig,
    /// Outgoing email.
    pub email: EmailConfig,
    /// Single sign-on providers.
    #[serde(default)]
    pub sso: SsoConfig,
    /// Secret store.
    #[serde(default)]
    pub secrets: SecretsConfig,
    /// Vault / OpenBao.
    #[serde(default)]
    pub vault: VaultSection,
    /// LLM providers.
    #[serde(default)]
    pub ai: AiConfig,
    /// Redis, shared by every instance (model budgets).
    #[serde(default)]
    pub redis: RedisConfig,
    /// Durable workflows.
    #[serde(default)]
    pub workflows: WorkflowsConfig,
    /// Temporal, when `workflows.engine = "temporal"`.
    #[serde(default)]
    pub temporal: TemporalSection,
    /// The address users reach this instance at, for links in email
    /// (default: http://<listen>).
    pub public_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8000".into(),
            data_dir: PathBuf::from("./data"),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            database: DatabaseConfig {
                url: None,
                migration_url: None,
                max_connections: store::default_pool_size(),
                acquire_timeout_secs: 3,
            },
            http: HttpConfig {
                max_body_bytes: 1024 * 1024,
                request_timeout_secs: 30,
                token_cache_ttl_secs: 10,
                page_cache_bytes: 16 * 1024 * 1024,
                trusted_proxies: Vec::new(),
                shutdown_grace_secs: default_shutdown_grace(),
            },
            auth: AuthConfig::default(),
            email: EmailConfig::default(),
            sso: SsoConfig::default(),
            secrets: SecretsConfig::default(),
            vault: VaultSection::default(),
            ai: AiConfig::default(),
            redis: RedisConfig::default(),
            workflows: WorkflowsConfig::default(),
            temporal: TemporalSection::default(),
            public_url: None,
        }
    }
}

/// Sections whose variables nest: `BIZOS_DATABASE_URL` is `database.url`.
const SECTIONS: &[&str] = &[
    "sso_google",
    "sso_microsoft",
    "sso_github",
    "database",
    "email",
    "http",
    "secrets",
    "workflows",
    "auth",
    "vault",
    "temporal",
    "ai",
    "redis",
];

fn env_key(key: &str) -> String {
    let lower = key.to_ascii_lowercase();
    for s in SECTIONS {
        if let Some(rest) = lower.strip_prefix(&format!("{s}_")) {
            return format!("{}.{rest}", s.replace('_', "."));
        }
    }
    lower
}

impl Config {
    /// Loads the configuration. `file` is an explicit `--config`; otherwise
    /// `./bizosaas.toml` is read when it exists.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(f) => {
                anyhow::ensure!(
                    f.exists(),
                    "configuration file {} does not exist",
                    f.display()
                );
                fig = fig.merge(Toml::file(f));
            }
            None => fig = fig.merge(Toml::file("bizosaas.toml")),
        }
        fig = fig
            .merge(
                Env::prefixed("BIZOS_")
                    // The master key is read where it is used, never kept in Config.
                    .filter(|k| !k.as_str().eq_ignore_ascii_case("master_key"))
                    .map(|k| env_key(k.as_str()).into())
                    .lowercase(false),
            )
            .merge(
                Env::raw()
                    .only(&[
                        "DATABASE_URL",
                        "VAULT_ADDR",
                        "VAULT_KV_MOUNT",
                        "VAULT_ROLE_ID",
                        "TEMPORAL_ADDRESS",
                        "TEMPORAL_NAMESPACE",
                        "TEMPORAL_TASK_QUEUE",
                        "TEMPORAL_TLS",
                        "TEMPORAL_TLS_CA",
                        "TEMPORAL_TLS_CERT",
                        "TEMPORAL_TLS_KEY",
                    ])
                    .map(|k| match k.as_str() {
                        "DATABASE_URL" => "database.url".into(),
                        t if t.starts_with("TEMPORAL_") => {
                            format!("temporal.{}", t["TEMPORAL_".len()..].to_ascii_lowercase())
                                .into()
                        }
                        other => format!(
                            "vault.{}",
                            other.to_ascii_lowercase().trim_start_matches("vault_")
                        )
                        .into(),
                    }),
            );
        fig.extract().context("invalid configuration")
    }

    /// The database URL in effect: configured, or `data/bizosaas.db`.
    pub fn database_url(&self) -> String {
        self.database
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("bizosaas.db").display()))
    }

    /// Store settings.
    pub fn db_config(&self) -> store::DbConfig {
        let mut c = store::DbConfig::new(self.database_url());
        c.migration_url = self.database.migration_url.clone();
        c.max_connections = self.database.max_connections;
        c.acquire_timeout = Duration::from_secs(self.database.acquire_timeout_secs);
        c
    }

    /// The email adapter: SMTP when configured, else the outbox directory.
    pub fn email_sender(&self) -> anyhow::Result<std::sync::Arc<dyn domain::email::EmailSender>> {
        Ok(match &self.email.smtp_url {
            Some(url) => std::sync::Arc::new(mail::SmtpSender::new(&mail::SmtpConfig {
                url: url.clone(),
                from: self
                    .email
                    .from
                    .clone()
                    .context("email.from is required with email.smtp_url")?,
                username: self.email.smtp_username.clone(),
                password: self.email.smtp_password.clone(),
            })?),
            None => std::sync::Arc::new(mail::OutboxSender::new(self.data_dir.join("outbox"))),
        })
    }

    /// The configured single sign-on providers.
    pub fn sso_providers(&self) -> anyhow::Result<Vec<auth::sso::ProviderConfig>> {
        use auth::sso::ProviderConfig;
        let mut out = Vec::new();
        if let Some(c) = &self.sso.google {
            out.push(ProviderConfig::google(
                c.client_id.clone(),
                c.client_secret.clone(),
            ));
        }
        if let Some(c) = &self.sso.microsoft {
            let directory = c
                .directory
                .as_deref()
                .context("sso.microsoft.directory is required: the Entra ID tenant id or domain whose users may sign in")?;
            out.push(ProviderConfig::microsoft(
                directory,
                c.client_id.clone(),
                c.client_secret.clone(),
            ));
        }
        if let Some(c) = &self.sso.github {
            out.push(ProviderConfig::github(
                c.client_id.clone(),
                c.client_secret.clone(),
            ));
        }
        for o in &self.sso.oidc {
            out.push(ProviderConfig::oidc(
                &o.id,
                &o.label,
                &o.issuer,
                o.client_id.clone(),
                o.client_secret.clone(),
            ));
        }
        Ok(out)
    }

    /// Where the secret store is and how to reach it.
    pub fn secrets_backend(&self) -> anyhow::Result<secrets::Backend> {
        use secrets::local::keyring::KeySource;
        use secrets::vault::{VaultAuth, VaultConfig};
        Ok(match self.secrets.backend {
            SecretsBackendKind::Local => match std::env::var("BIZOS_MASTER_KEY") {
                Ok(keys) if !keys.is_empty() => {
                    secrets::Backend::Local(KeySource::Env(keys.into()))
                }
                _ => secrets::Backend::Local(KeySource::File(
                    self.secrets
                        .master_key_file
                        .clone()
                        .unwrap_or_else(|| self.data_dir.join("master.key")),
                )),
            },
            SecretsBackendKind::Vault => {
                let addr = self
                    .vault
                    .addr
                    .clone()
                    .context("secrets.backend = vault needs VAULT_ADDR")?;
                let auth = match &self.vault.role_id {
                    Some(role_id) => VaultAuth::AppRole {
                        mount: self.vault.approle_mount.clone(),
                        role_id: role_id.clone(),
                        secret_id: std::env::var("VAULT_SECRET_ID")
                            .context("AppRole (VAULT_ROLE_ID) needs VAULT_SECRET_ID")?
                            .into(),
                    },
                    None => VaultAuth::Token(
                        std::env::var("VAULT_TOKEN")
                            .context("secrets.backend = vault needs VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID")?
                            .into(),
                    ),
                };
                secrets::Backend::Vault(VaultConfig {
                    addr,
                    auth,
                    mount: self.vault.kv_mount.clone(),
                    timeout: Duration::from_secs(self.vault.timeout_secs),
                })
            }
        })
    }

    /// The secret store, with its cache.
    pub fn secret_store(
        &self,
        store: &store::Store,
    ) -> anyhow::Result<std::sync::Arc<dyn domain::secrets::SecretStore>> {
        Ok(secrets::open(
            &self.secrets_backend()?,
            store,
            Duration::from_secs(self.secrets.cache_ttl_secs),
        )?)
    }

    /// The connectors, calling private addresses only where
    /// `ai.allow_private_endpoints` allows tenant-given URLs to.
    pub fn connectors(&self) -> connectors::Registry {
        app::connectors::registry(self.ai.allow_private_endpoints)
    }

    /// The provider key checker.
    pub fn key_checker(&self) -> ai::providers::KeyChecker {
        ai::providers::KeyChecker::new(ai::providers::Endpoints {
            openai: self.ai.openai_base_url.trim_end_matches('/').to_string(),
            anthropic: self.ai.anthropic_base_url.trim_end_matches('/').to_string(),
            openrouter: self
                .ai
                .openrouter_base_url
                .trim_end_matches('/')
                .to_string(),
            allow_private_endpoints: self.ai.allow_private_endpoints,
            local: self
                .ai
                .local_url
                .as_deref()
                .map(|u| u.trim_end_matches('/').to_string()),
        })
    }

    /// The application's settings.
    pub fn settings(&self) -> anyhow::Result<app::Settings> {
        let trusted_proxies = self
            .http
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .with_context(|| {
                        format!("http.trusted_proxies: `{p}` is not an address or CIDR")
                    })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(app::Settings {
            max_body_bytes: self.http.max_body_bytes,
            request_timeout: Duration::from_secs(self.http.request_timeout_secs),
            token_cache_ttl: Duration::from_secs(self.http.token_cache_ttl_secs),
            page_cache_bytes: self.http.page_cache_bytes,
            registration_open: self.auth.registration_open,
            session_lifetime: chrono::TimeDelta::hours(self.auth.session_hours),
            session_idle: chrono::TimeDelta::minutes(self.auth.session_idle_minutes),
            lockout_after: self.auth.lockout_after,
            lockout_for: chrono::TimeDelta::minutes(self.auth.lockout_minutes),
            login_attempts_per_minute: self.auth.login_attempts_per_minute,
            public_url: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", self.listen)),
            invitation_lifetime: chrono::TimeDelta::days(7),
            max_active_tokens: self.auth.max_active_tokens,
            trusted_proxies,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_variables_nest_and_others_stay_top_level() {
        assert_eq!(env_key("DATABASE_MIGRATION_URL"), "database.migration_url");
        assert_eq!(env_key("SECRETS_BACKEND"), "secrets.backend");
        assert_eq!(env_key("DATA_DIR"), "data_dir");
        assert_eq!(env_key("LOG_FORMAT"), "log_format");
        assert_eq!(env_key("EMAIL_SMTP_URL"), "email.smtp_url");
        assert_eq!(
            env_key("SSO_GITHUB_CLIENT_SECRET"),
            "sso.github.client_secret"
        );
    }

    #[test]
    fn the_default_database_is_sqlite_in_the_data_dir() {
        let c = Config::default();
        assert_eq!(c.database_url(), "sqlite://./data/bizosaas.db");
    }
}
