//! Providers a tenant can bring its own key for, and the key check: one
//! cheap authenticated call to the provider's model (or key) endpoint.

use domain::secrets::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// An LLM provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// OpenAI (`GET /v1/models`, bearer key).
    OpenAi,
    /// Anthropic (`GET /v1/models`, `x-api-key` and `anthropic-version`).
    Anthropic,
    /// OpenRouter (`GET /api/v1/key`, bearer key; its model list is public).
    OpenRouter,
    /// Any OpenAI-compatible endpoint at a base URL the tenant gives.
    Compatible,
}

impl Provider {
    /// The provider a service name stands for: the three known names, or any
    /// other valid name for an OpenAI-compatible endpoint.
    pub fn for_service(service: &str) -> Provider {
        match service {
            "openai" => Provider::OpenAi,
            "anthropic" => Provider::Anthropic,
            "openrouter" => Provider::OpenRouter,
            _ => Provider::Compatible,
        }
    }

    /// The provider's name for people.
    pub fn label(self) -> &'static str {
        match self {
            Provider::OpenAi => "OpenAI",
            Provider::Anthropic => "Anthropic",
            Provider::OpenRouter => "OpenRouter",
            Provider::Compatible => "the OpenAI-compatible endpoint",
        }
    }
}

/// The providers' API base URLs (configurable, so tests and proxies can
/// stand in), and whether compatible endpoints may be on private networks.
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// OpenAI, e.g. `https://api.openai.com/v1`.
    pub openai: String,
    /// Anthropic, e.g. `https://api.anthropic.com/v1`.
    pub anthropic: String,
    /// OpenRouter, e.g. `https://openrouter.ai/api/v1`.
    pub openrouter: String,
    /// Let compatible endpoints use http and loopback or private addresses
    /// (a self-hosted model server). Off by default: the server would
    /// otherwise send a tenant's key wherever an admin points it.
    pub allow_private_endpoints: bool,
    /// The platform's own OpenAI-compatible model server (e.g. llama.cpp's
    /// `llama-server` at `http://127.0.0.1:8089/v1`), offered to every
    /// tenant as the `local` provider with no key. Absent: none.
    pub local: Option<String>,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            openai: "https://api.openai.com/v1".into(),
            anthropic: "https://api.anthropic.com/v1".into(),
            openrouter: "https://openrouter.ai/api/v1".into(),
            allow_private_endpoints: false,
            local: None,
        }
    }
}

/// What a provider said of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted; with what the provider showed (e.g. how many models).
    Valid(String),
    /// Refused, with the provider's reason.
    Rejected(String),
}

/// Why a key could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The base URL is not acceptable.
    #[error("{0}")]
    BadUrl(String),
    /// The provider could not be reached or failed.
    #[error("{0}")]
    Unreachable(String),
    /// The provider is rate limiting the key.
    #[error("{provider} is rate limiting this key; try again in {retry_after} s")]
    RateLimited {
        /// Which provider.
        provider: &'static str,
        /// Seconds it asked to wait.
        retry_after: u64,
    },
}

/// Checks keys against providers.
#[derive(Clone)]
pub struct KeyChecker {
    /// For the operator's configured provider endpoints.
    http: reqwest::Client,
    /// For endpoints a tenant gives; built on first use, as most instances
    /// never call one (each client holds its own TLS roots in memory).
    guarded: Arc<OnceLock<outbound::Outbound>>,
    policy: outbound::Policy,
    endpoints: Endpoints,
}

#[derive(Deserialize)]
struct List {
    #[serde(default)]
    data: Vec<serde_json::Value>,
}

impl KeyChecker {
    /// A checker for these endpoints.
    pub fn new(endpoints: Endpoints) -> Self {
        // Compatible endpoints are URLs a tenant gives: the guarded client
        // refuses internal addresses when it connects, redirects included.
        let policy = outbound::Policy {
            allow_private: endpoints.allow_private_endpoints,
            ..Default::default()
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client with a timeout builds");
        Self {
            http,
            guarded: Arc::new(OnceLock::new()),
            policy,
            endpoints,
        }
    }

    /// The provider endpoints it checks against.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    fn guarded(&self) -> &outbound::Outbound {
        self.guarded
            .get_or_init(|| outbound::Outbound::new(self.policy.clone(), Duration::from_secs(10)))
    }

    /// Validates a compatible endpoint's base URL, returning it normalized.
    pub fn base_url(&self, raw: &str) -> Result<String, CheckError> {
        compatible_base_url(&self.policy, raw)
    }

    /// Asks the provider whether it accepts the key.
    pub async fn check(
        &self,
        provider: Provider,
        base_url: Option<&str>,
        key: &SecretString,
    ) -> Result<Verdict, CheckError> {
        let secret = key.expose_secret();
        let req = match provider {
            Provider::OpenAi => self
                .http
                .get(format!("{}/models", self.endpoints.openai))
                .bearer_auth(secret),
            Provider::Anthropic => self
                .http
                .get(format!("{}/models", self.endpoints.anthropic))
                .header("x-api-key", secret)
                .header("anthropic-version", "2023-06-01"),
            Provider::OpenRouter => self
                .http
                .get(format!("{}/key", self.endpoints.openrouter))
                .bearer_auth(secret),
            Provider::Compatible => {
                let base = base_url.ok_or_else(|| {
                    CheckError::BadUrl("an OpenAI-compatible service needs its `base_url`".into())
                })?;
                self.guarded()
                    .http()
                    .get(format!("{}/models", self.base_url(base)?))
                    .bearer_auth(secret)
            }
        };
        let label = provider.label();
        let sent = match provider {
            Provider::Compatible => self.guarded().send(req).await,
            _ => req.send().await.map_err(outbound::Error::Transport),
        };
        let res = sent.map_err(|e| match e {
            outbound::Error::Refused(r) => CheckError::BadUrl(format!("refused: {r}")),
            outbound::Error::Transport(e) => CheckError::Unreachable(format!(
                "{label} could not be reached: {}",
                without_url(&e)
            )),
        })?;
        let status = res.status();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(30);
        let body = res.text().await.unwrap_or_default();
        match status.as_u16() {
            200..=299 => Ok(Verdict::Valid(match provider {
                Provider::OpenRouter => "OpenRouter accepted the key".to_string(),
                _ => {
                    let n = serde_json::from_str::<List>(&body).map_or(0, |l| l.data.len());
                    format!("{label} accepted the key ({n} models available)")
                }
            })),
            401 | 403 => Ok(Verdict::Rejected(scrub(
                &format!("{label} rejected the key: {}", reason(&body, status)),
                secret,
            ))),
            429 => Err(CheckError::RateLimited {
                provider: label,
                retry_after,
            }),
            _ => Err(CheckError::Unreachable(scrub(
                &format!("{label} answered {status}: {}", reason(&body, status)),
                secret,
            ))),
        }
    }
}

/// Validates the base URL of an OpenAI-compatible endpoint a tenant gives,
/// returning it normalized: https (or http where private endpoints are
/// allowed), no credentials or query, no internal address unless allowed.
pub fn compatible_base_url(policy: &outbound::Policy, raw: &str) -> Result<String, CheckError> {
    let url =
        url::Url::parse(raw.trim()).map_err(|e| CheckError::BadUrl(format!("not a URL: {e}")))?;
    let private_ok = policy.allow_private;
    match url.scheme() {
        "https" => {}
        "http" if private_ok => {}
        _ => return Err(CheckError::BadUrl("must be an https:// URL".into())),
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(CheckError::BadUrl(
            "must not carry credentials or a query; the key is sent as a bearer token".into(),
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| CheckError::BadUrl("has no host".into()))?;
    // Addresses are refused here already; names when they resolve.
    let refused = || {
        CheckError::BadUrl(
            "points at a loopback or private address, which this server does not allow".into(),
        )
    };
    if host.eq_ignore_ascii_case("localhost") && !private_ok {
        return Err(refused());
    }
    policy.check_url(&url).map_err(|_| refused())?;
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The provider's error message: `error.message` for OpenAI, Anthropic and
/// OpenRouter alike, else the status.
fn reason(body: &str, status: reqwest::StatusCode) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string())
}

/// Never echo a key back, whatever a provider put in its message.
fn scrub(text: &str, secret: &str) -> String {
    if secret.len() >= 4 {
        text.replace(secret, "[key]")
    } else {
        text.to_string()
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url() {
        msg = msg.replace(url.as_str(), "");
    }
    msg.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatible_endpoints_must_be_public_https_unless_allowed() {
        let strict = KeyChecker::new(Endpoints::default());
        assert!(strict.base_url("https://llm.example.com/v1/").is_ok());
        for bad in [
            "http://llm.example.com/v1",
            "https://127.0.0.1:8200/v1",
            "https://10.0.0.2/v1",
            "https://localhost/v1",
            "https://u:p@llm.example.com",
            "ftp://x",
        ] {
            assert!(strict.base_url(bad).is_err(), "{bad} accepted");
        }
        let open = KeyChecker::new(Endpoints {
            allow_private_endpoints: true,
            ..Endpoints::default()
        });
        assert_eq!(
            open.base_url("http://127.0.0.1:9/v1/").unwrap(),
            "http://127.0.0.1:9/v1"
        );
    }

    #[test]
    fn a_key_echoed_by_a_provider_is_scrubbed() {
        assert_eq!(scrub("bad key sk-123456", "sk-123456"), "bad key [key]");
    }
}
