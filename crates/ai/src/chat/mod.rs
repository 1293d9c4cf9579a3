//! Chat with a provider's models, behind [`domain::llm::ChatModel`]: OpenAI,
//! Anthropic, OpenRouter and any OpenAI-compatible base URL, each with the
//! tenant's own key.

pub mod anthropic;
pub mod call;
pub mod openai;
pub mod sse;
pub mod stream;

use crate::providers::{compatible_base_url, Endpoints, Provider};
use call::{CallPolicy, Transport};
use domain::llm::{ChatModel, LlmError};
use domain::secrets::SecretString;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Makes a [`ChatModel`] for a provider and a key. Cheap to clone; the
/// HTTP clients (and their connection pools) are shared by every call.
#[derive(Clone)]
pub struct Models {
    endpoints: Endpoints,
    operator: reqwest::Client,
    /// For endpoints a tenant gives; built on first use.
    tenant: Arc<OnceLock<outbound::Outbound>>,
    guard: outbound::Policy,
    policy: CallPolicy,
    referer: String,
}

impl Models {
    /// Models at `endpoints`, called with `policy`; `public_url` names the
    /// platform to OpenRouter.
    pub fn new(endpoints: Endpoints, policy: CallPolicy, public_url: &str) -> Self {
        let guard = outbound::Policy {
            allow_private: endpoints.allow_private_endpoints,
            ..Default::default()
        };
        // No total timeout: a streamed answer may run for minutes. The call
        // bounds the wait for the first byte and each pause in the stream.
        let operator = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client builds");
        Self {
            endpoints,
            operator,
            tenant: Arc::new(OnceLock::new()),
            guard,
            policy,
            referer: public_url.to_string(),
        }
    }

    fn tenant_transport(&self) -> Transport {
        let out = self.tenant.get_or_init(|| {
            // A day: no practical total bound; see `new`.
            outbound::Outbound::new(self.guard.clone(), Duration::from_secs(86_400))
        });
        Transport::Tenant(out.clone())
    }

    /// The model client for `provider` with `key`; a compatible endpoint
    /// needs its `base_url`, which is checked here.
    pub fn for_key(
        &self,
        provider: Provider,
        base_url: Option<&str>,
        key: SecretString,
    ) -> Result<Arc<dyn ChatModel>, LlmError> {
        use openai::{Flavor, OpenAiChat};
        let operator = || Transport::Operator(self.operator.clone());
        Ok(match provider {
            Provider::OpenAi => Arc::new(OpenAiChat::new(
                operator(),
                &self.endpoints.openai,
                key,
                Flavor::OpenAi,
                self.policy,
                &self.referer,
            )),
            Provider::OpenRouter => Arc::new(OpenAiChat::new(
                operator(),
                &self.endpoints.openrouter,
                key,
                Flavor::OpenRouter,
                self.policy,
                &self.referer,
            )),
            Provider::Anthropic => Arc::new(anthropic::AnthropicChat::new(
                operator(),
                &self.endpoints.anthropic,
                key,
                self.policy,
            )),
            Provider::Compatible => {
                let raw = base_url.ok_or_else(|| LlmError::Refused {
                    provider: Provider::Compatible.label(),
                    message: "an OpenAI-compatible service needs its base URL".into(),
                })?;
                let base =
                    compatible_base_url(&self.guard, raw).map_err(|e| LlmError::Refused {
                        provider: Provider::Compatible.label(),
                        message: format!("the base URL {e}"),
                    })?;
                Arc::new(OpenAiChat::new(
                    self.tenant_transport(),
                    &base,
                    key,
                    Flavor::Compatible,
                    self.policy,
                    &self.referer,
                ))
            }
        })
    }
}
