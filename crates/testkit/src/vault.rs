//! OpenBao for tests: the dev server `scripts/services.sh` starts (its
//! address in `BIZOSAAS_TEST_VAULT_ADDR`). Each test gets its own KV v2 mount
//! and a policy limited to it, used through a token or an AppRole.

use anyhow::Context;
use secrets::vault::{VaultAuth, VaultConfig};
use serde_json::{json, Value};
use std::time::Duration;

/// A KV v2 mount of its own on the test OpenBao.
pub struct TestVault {
    /// Server address.
    pub addr: String,
    /// The mount.
    pub mount: String,
    root: String,
    http: reqwest::Client,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: Vault tests need the test OpenBao. Run `scripts/test.sh` \
             (or `scripts/services.sh` and source the env file it writes)."
        )
    })
}

impl TestVault {
    /// Creates a fresh KV v2 mount and a policy giving access to it only.
    pub async fn create() -> anyhow::Result<Self> {
        let v = Self {
            addr: env("BIZOSAAS_TEST_VAULT_ADDR"),
            root: env("BIZOSAAS_TEST_VAULT_TOKEN"),
            mount: format!("t{}", uuid::Uuid::now_v7().simple()),
            http: reqwest::Client::new(),
        };
        v.call(
            reqwest::Method::POST,
            &format!("sys/mounts/{}", v.mount),
            Some(json!({ "type": "kv", "options": { "version": "2" } })),
        )
        .await
        .context("creating the test KV mount")?;
        let policy = format!(
            "path \"{m}/data/*\" {{ capabilities = [\"create\", \"read\", \"update\", \"delete\"] }}\n\
             path \"{m}/metadata/*\" {{ capabilities = [\"read\", \"delete\", \"list\"] }}",
            m = v.mount
        );
        v.call(
            reqwest::Method::PUT,
            &format!("sys/policies/acl/{}", v.mount),
            Some(json!({ "policy": policy })),
        )
        .await?;
        Ok(v)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}/v1/{path}", self.addr))
            .header("X-Vault-Token", &self.root);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.context("calling the test OpenBao")?;
        let status = res.status();
        let text = res.text().await?;
        anyhow::ensure!(status.is_success(), "OpenBao {path}: {status} {text}");
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        })
    }

    /// A token limited to this mount, living `ttl`.
    pub async fn token(&self, ttl: Duration) -> anyhow::Result<String> {
        let res = self
            .call(
                reqwest::Method::POST,
                "auth/token/create",
                Some(json!({ "policies": [self.mount], "ttl": format!("{}s", ttl.as_secs()), "renewable": true })),
            )
            .await?;
        Ok(res["auth"]["client_token"]
            .as_str()
            .context("no token")?
            .to_string())
    }

    /// An AppRole limited to this mount whose tokens live `ttl` (renewable
    /// up to `max_ttl`); returns (role id, secret id).
    pub async fn approle(
        &self,
        ttl: Duration,
        max_ttl: Duration,
    ) -> anyhow::Result<(String, String)> {
        let role = format!("auth/approle/role/{}", self.mount);
        self.call(
            reqwest::Method::POST,
            &role,
            Some(json!({
                "token_policies": [self.mount],
                "token_ttl": format!("{}s", ttl.as_secs()),
                "token_max_ttl": format!("{}s", max_ttl.as_secs()),
            })),
        )
        .await?;
        let id = self
            .call(reqwest::Method::GET, &format!("{role}/role-id"), None)
            .await?;
        let secret = self
            .call(
                reqwest::Method::POST,
                &format!("{role}/secret-id"),
                Some(json!({})),
            )
            .await?;
        Ok((
            id["data"]["role_id"]
                .as_str()
                .context("role id")?
                .to_string(),
            secret["data"]["secret_id"]
                .as_str()
                .context("secret id")?
                .to_string(),
        ))
    }

    /// Configuration of the app against this mount with a token.
    pub async fn token_config(&self) -> anyhow::Result<VaultConfig> {
        Ok(self.config(VaultAuth::Token(
            self.token(Duration::from_secs(3600)).await?.into(),
        )))
    }

    /// Configuration of the app against this mount, authenticated as given.
    pub fn config(&self, auth: VaultAuth) -> VaultConfig {
        VaultConfig {
            addr: self.addr.clone(),
            auth,
            mount: self.mount.clone(),
            timeout: Duration::from_secs(5),
        }
    }

    /// Reads a secret directly (as an operator would), `None` if absent.
    pub async fn read(&self, path: &str) -> anyhow::Result<Option<Value>> {
        let res = self
            .http
            .get(format!("{}/v1/{}/data/{path}", self.addr, self.mount))
            .header("X-Vault-Token", &self.root)
            .send()
            .await?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        anyhow::ensure!(res.status().is_success(), "read {path}: {}", res.status());
        let body: Value = res.json().await?;
        Ok(Some(body["data"]["data"].clone()))
    }

    /// Whether any version or metadata remains at a path.
    pub async fn has_metadata(&self, path: &str) -> anyhow::Result<bool> {
        let res = self
            .http
            .get(format!("{}/v1/{}/metadata/{path}", self.addr, self.mount))
            .header("X-Vault-Token", &self.root)
            .send()
            .await?;
        Ok(res.status().is_success())
    }
}
