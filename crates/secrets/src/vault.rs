//! HashiCorp Vault and OpenBao (the same HTTP API) through `vaultrs`: KV v2
//! at a configurable mount, token or AppRole authentication, the token
//! renewed (or AppRole logged in again) before it expires.

use crate::SecretsError;
use domain::secrets::{
    ExposeSecret, Secret, SecretFuture, SecretPath, SecretStore, SecretStoreError, SecretString,
};
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::RwLock;
use vaultrs::client::{Client, VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;

/// How the app authenticates to Vault.
#[derive(Clone)]
pub enum VaultAuth {
    /// A token (`VAULT_TOKEN`).
    Token(SecretString),
    /// AppRole (`VAULT_ROLE_ID`, `VAULT_SECRET_ID`) at an auth mount.
    AppRole {
        /// The auth method's mount, usually `approle`.
        mount: String,
        /// The role id.
        role_id: String,
        /// The secret id.
        secret_id: SecretString,
    },
}

impl std::fmt::Debug for VaultAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultAuth::Token(_) => f.write_str("Token(***)"),
            VaultAuth::AppRole { mount, role_id, .. } => f
                .debug_struct("AppRole")
                .field("mount", mount)
                .field("role_id", role_id)
                .finish_non_exhaustive(),
        }
    }
}

/// Where Vault is and how to use it.
#[derive(Clone, Debug)]
pub struct VaultConfig {
    /// `VAULT_ADDR`.
    pub addr: String,
    /// Authentication.
    pub auth: VaultAuth,
    /// The KV v2 mount (`VAULT_KV_MOUNT`, default `secret`).
    pub mount: String,
    /// Per-request timeout.
    pub timeout: Duration,
}

struct Session {
    client: Arc<VaultClient>,
    /// Seconds the token lives from when it was obtained; 0 = never expires.
    ttl: u64,
    renewable: bool,
}

/// Secrets in Vault / OpenBao KV v2.
pub struct VaultStore {
    config: VaultConfig,
    session: RwLock<Option<Session>>,
}

fn map_err(path: &str, e: ClientError) -> SecretStoreError {
    match e {
        ClientError::APIError { code: 404, .. } | ClientError::ResponseDataEmptyError => {
            SecretStoreError::NotFound(path.to_string())
        }
        ClientError::APIError { code: 403, errors }
        | ClientError::APIError { code: 401, errors } => {
            SecretStoreError::Denied(errors.join("; "))
        }
        ClientError::APIError { code, errors } if code >= 500 => {
            SecretStoreError::Unavailable(format!("Vault answered {code}: {}", errors.join("; ")))
        }
        ClientError::RestClientError { source } => {
            SecretStoreError::Unavailable(format!("cannot reach Vault: {source}"))
        }
        other => SecretStoreError::Other(other.to_string()),
    }
}

impl VaultStore {
    /// A store for this configuration. Nothing is contacted yet: a Vault
    /// that is down now does not stop start-up; the first use logs in.
    pub fn new(config: VaultConfig) -> Result<Arc<Self>, SecretsError> {
        url_check(&config.addr)?;
        let store = Arc::new(Self {
            config,
            session: RwLock::new(None),
        });
        tokio::spawn(keep_token_alive(Arc::downgrade(&store)));
        Ok(store)
    }

    fn client_with(&self, token: &str) -> Result<VaultClient, SecretStoreError> {
        let settings = VaultClientSettingsBuilder::default()
            .address(&self.config.addr)
            .token(token)
            .timeout(Some(self.config.timeout))
            .build()
            .map_err(|e| SecretStoreError::Other(format!("Vault client settings: {e}")))?;
        VaultClient::new(settings).map_err(|e| SecretStoreError::Other(e.to_string()))
    }

    /// Obtains a token: looks up the configured one, or logs in with AppRole.
    async fn login(&self) -> Result<Session, SecretStoreError> {
        match &self.config.auth {
            VaultAuth::Token(token) => {
                let client = self.client_with(token.expose_secret())?;
                let info = vaultrs::token::lookup_self(&client)
                    .await
                    .map_err(|e| map_err("auth/token/lookup-self", e))?;
                Ok(Session {
                    client: Arc::new(client),
                    ttl: info.ttl,
                    renewable: info.renewable.unwrap_or(false),
                })
            }
            VaultAuth::AppRole {
                mount,
                role_id,
                secret_id,
            } => {
                let anonymous = self.client_with("")?;
                let auth = vaultrs::auth::approle::login(
                    &anonymous,
                    mount,
                    role_id,
                    secret_id.expose_secret(),
                )
                .await
                .map_err(|e| map_err("auth/approle/login", e))?;
                Ok(Session {
                    client: Arc::new(self.client_with(&auth.client_token)?),
                    ttl: auth.lease_duration,
                    renewable: auth.renewable,
                })
            }
        }
    }

    async fn client(&self) -> Result<Arc<VaultClient>, SecretStoreError> {
        if let Some(s) = self.session.read().await.as_ref() {
            return Ok(s.client.clone());
        }
        let mut slot = self.session.write().await;
        if let Some(s) = slot.as_ref() {
            return Ok(s.client.clone());
        }
        let session = self.login().await?;
        let client = session.client.clone();
        *slot = Some(session);
        Ok(client)
    }

    /// Runs an operation; a refused token (expired, revoked) is replaced by
    /// a fresh login once before giving up.
    async fn with_client<T, F, Fut>(&self, op: F) -> Result<T, SecretStoreError>
    where
        F: Fn(Arc<VaultClient>) -> Fut,
        Fut: std::future::Future<Output = Result<T, SecretStoreError>>,
    {
        match op(self.client().await?).await {
            Err(SecretStoreError::Denied(_))
                if matches!(self.config.auth, VaultAuth::AppRole { .. }) =>
            {
                *self.session.write().await = None;
                op(self.client().await?).await
            }
            other => other,
        }
    }

    /// Renews the token, or logs in again when it cannot be renewed further;
    /// returns seconds until the next refresh is due (None: never).
    async fn refresh(&self) -> Result<Option<u64>, SecretStoreError> {
        let current = self
            .session
            .read()
            .await
            .as_ref()
            .map(|s| (s.client.clone(), s.ttl, s.renewable));
        let Some((client, ttl, renewable)) = current else {
            // Not logged in yet (or the last attempt failed): try now.
            let session = self.login().await?;
            let ttl = session.ttl;
            *self.session.write().await = Some(session);
            return Ok((ttl > 0).then_some(ttl));
        };
        if ttl == 0 {
            return Ok(None);
        }
        let renewed = if renewable {
            client
                .renew(None)
                .await
                .ok()
                .filter(|a| a.lease_duration * 2 >= ttl)
        } else {
            None
        };
        let next = match renewed {
            Some(auth) => auth.lease_duration,
            // At its maximum lifetime (or not renewable): a new login.
            None => {
                let session = self.login().await?;
                let ttl = session.ttl;
                *self.session.write().await = Some(session);
                ttl
            }
        };
        Ok((next > 0).then_some(next))
    }
}

fn url_check(addr: &str) -> Result<(), SecretsError> {
    if addr.starts_with("http://") || addr.starts_with("https://") {
        Ok(())
    } else {
        Err(SecretsError::Config(format!(
            "VAULT_ADDR `{addr}` must start with http:// or https://"
        )))
    }
}

/// Keeps the token valid: refreshes at two thirds of its lifetime.
async fn keep_token_alive(store: Weak<VaultStore>) {
    let mut wait = Duration::from_secs(1);
    loop {
        tokio::time::sleep(wait).await;
        let Some(store) = store.upgrade() else { return };
        wait = match store.refresh().await {
            Ok(Some(ttl)) => {
                Duration::from_millis(ttl * 1000 * 2 / 3).max(Duration::from_millis(500))
            }
            Ok(None) => Duration::from_secs(300),
            Err(e) => {
                tracing::warn!(error = %e, "Vault token refresh failed; retrying");
                Duration::from_secs(2)
            }
        };
    }
}

impl SecretStore for VaultStore {
    fn name(&self) -> &'static str {
        "vault"
    }

    fn put<'a>(&'a self, path: &'a SecretPath, secret: &'a Secret) -> SecretFuture<'a, ()> {
        Box::pin(async move {
            let data: HashMap<&str, &str> = secret
                .fields()
                .map(|(k, v)| (k, v.expose_secret()))
                .collect();
            let mount = &self.config.mount;
            self.with_client(|c| {
                let data = &data;
                async move {
                    vaultrs::kv2::set(&*c, mount, path.as_str(), data)
                        .await
                        .map(|_| ())
                        .map_err(|e| map_err(path.as_str(), e))
                }
            })
            .await
        })
    }

    fn get<'a>(&'a self, path: &'a SecretPath) -> SecretFuture<'a, Secret> {
        Box::pin(async move {
            let mount = &self.config.mount;
            let fields: HashMap<String, String> = self
                .with_client(|c| async move {
                    vaultrs::kv2::read(&*c, mount, path.as_str())
                        .await
                        .map_err(|e| map_err(path.as_str(), e))
                })
                .await?;
            let mut secret = Secret::default();
            for (k, v) in fields {
                secret.insert(&k, SecretString::from(v));
            }
            Ok(secret)
        })
    }

    fn delete<'a>(&'a self, path: &'a SecretPath) -> SecretFuture<'a, ()> {
        Box::pin(async move {
            let mount = &self.config.mount;
            // Metadata deletion destroys every version permanently.
            let result = self
                .with_client(|c| async move {
                    vaultrs::kv2::delete_metadata(&*c, mount, path.as_str())
                        .await
                        .map_err(|e| map_err(path.as_str(), e))
                })
                .await;
            match result {
                Err(SecretStoreError::NotFound(_)) => Ok(()),
                other => other,
            }
        })
    }

    fn check(&self) -> SecretFuture<'_, Vec<String>> {
        Box::pin(async move {
            let mut checked = Vec::new();
            let health = reqwest::Client::new()
                .get(format!(
                    "{}/v1/sys/health",
                    self.config.addr.trim_end_matches('/')
                ))
                .timeout(self.config.timeout)
                .send()
                .await
                .map_err(|e| {
                    SecretStoreError::Unavailable(format!(
                        "cannot reach Vault at {}: {e}",
                        self.config.addr
                    ))
                })?;
            // sys/health answers 200 when active and unsealed (vaultrs cannot
            // parse OpenBao's body, so the status code is what counts).
            match health.status().as_u16() {
                200 | 429 | 472 | 473 => checked.push(format!(
                    "Vault at {} reachable and unsealed",
                    self.config.addr
                )),
                503 => return Err(SecretStoreError::Unavailable("Vault is sealed".into())),
                501 => {
                    return Err(SecretStoreError::Unavailable(
                        "Vault is not initialized".into(),
                    ))
                }
                s => {
                    return Err(SecretStoreError::Unavailable(format!(
                        "Vault health answered {s}"
                    )))
                }
            }
            *self.session.write().await = None;
            self.client().await?;
            checked.push(format!(
                "authenticated ({})",
                match self.config.auth {
                    VaultAuth::Token(_) => "token",
                    VaultAuth::AppRole { .. } => "AppRole",
                }
            ));
            let probe = format!("tenants/doctor-check/{}", uuid::Uuid::now_v7());
            let mount = &self.config.mount;
            let value = HashMap::from([("probe", "bizosaas doctor")]);
            let client = self.client().await?;
            vaultrs::kv2::set(&*client, mount, &probe, &value)
                .await
                .map_err(|e| match e {
                    ClientError::APIError { code: 404, .. } => SecretStoreError::Other(format!(
                        "the KV v2 mount `{mount}` does not exist (set VAULT_KV_MOUNT, or `bao secrets enable -path={mount} kv-v2`)"
                    )),
                    e => map_err(&probe, e),
                })?;
            checked.push(format!("KV v2 mount `{mount}` exists and accepts writes"));
            let back: HashMap<String, String> = vaultrs::kv2::read(&*client, mount, &probe)
                .await
                .map_err(|e| map_err(&probe, e))?;
            if back.get("probe").map(String::as_str) != Some("bizosaas doctor") {
                return Err(SecretStoreError::Other(
                    "read back a different value".into(),
                ));
            }
            vaultrs::kv2::delete_metadata(&*client, mount, &probe)
                .await
                .map_err(|e| map_err(&probe, e))?;
            checked.push("write, read and delete round trip".into());
            Ok(checked)
        })
    }
}
