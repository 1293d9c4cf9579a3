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
        self.upstream_for_key(provider, base_url, key)
            .map(|u| u.model())
    }

    /// The platform's own model server (`llm.local_url`), which needs no
    /// key: what a tenant without one chats with.
    pub fn local(&self) -> Option<Upstream> {
        let base = self.endpoints.local.as_deref()?;
        Some(Upstream::OpenAi(Arc::new(openai::OpenAiChat::new(
            Transport::Operator(self.operator.clone()),
            base,
            SecretString::from(String::new()),
            openai::Flavor::Compatible,
            self.policy,
            &self.referer,
        ))))
    }

    /// The provider's client for `key`, as the gateway needs it.
    pub fn upstream_for_key(
        &self,
        provider: Provider,
        base_url: Option<&str>,
        key: SecretString,
    ) -> Result<Upstream, LlmError> {
        use openai::{Flavor, OpenAiChat};
        let operator = || Transport::Operator(self.operator.clone());
        Ok(match provider {
            Provider::OpenAi => Upstream::OpenAi(Arc::new(OpenAiChat::new(
                operator(),
                &self.endpoints.openai,
                key,
                Flavor::OpenAi,
                self.policy,
                &self.referer,
            ))),
            Provider::OpenRouter => Upstream::OpenAi(Arc::new(OpenAiChat::new(
                operator(),
                &self.endpoints.openrouter,
                key,
                Flavor::OpenRouter,
                self.policy,
                &self.referer,
            ))),
            Provider::Anthropic => Upstream::Anthropic(Arc::new(anthropic::AnthropicChat::new(
                operator(),
                &self.endpoints.anthropic,
                key,
                self.policy,
            ))),
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
                Upstream::OpenAi(Arc::new(OpenAiChat::new(
                    self.tenant_transport(),
                    &base,
                    key,
                    Flavor::Compatible,
                    self.policy,
                    &self.referer,
                )))
            }
        })
    }
}

/// A provider's client as the gateway sees it: servers that speak OpenAI's
/// dialect get requests relayed byte for byte; Anthropic's are translated.
#[derive(Clone)]
pub enum Upstream {
    /// OpenAI, OpenRouter, a compatible server or the local model.
    OpenAi(Arc<openai::OpenAiChat>),
    /// Anthropic's Messages API.
    Anthropic(Arc<anthropic::AnthropicChat>),
}

impl Upstream {
    /// The same client behind the provider-neutral trait.
    pub fn model(&self) -> Arc<dyn ChatModel> {
        match self {
            Upstream::OpenAi(c) => c.clone(),
            Upstream::Anthropic(c) => c.clone(),
        }
    }
}
