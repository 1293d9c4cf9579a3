//! One call to a provider: a bounded wait for its answer, retries where a
//! retry can help (a rate limit, within a bound; a 5xx, once), and the
//! provider's error body mapped onto [`LlmError`].

use domain::llm::LlmError;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};
use std::time::Duration;

/// How patient a call is.
#[derive(Clone, Copy, Debug)]
pub struct CallPolicy {
    /// How long to wait for the provider to start answering.
    pub timeout: Duration,
    /// Retries after a rate limit.
    pub rate_limit_retries: u32,
    /// The longest wait a rate limit may ask for and still be retried;
    /// longer, and the caller is told at once.
    pub max_wait: Duration,
    /// First backoff when the provider names no wait; doubles each time.
    pub backoff: Duration,
}

impl Default for CallPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            rate_limit_retries: 2,
            max_wait: Duration::from_secs(10),
            backoff: Duration::from_millis(500),
        }
    }
}

/// How requests leave: the operator's configured provider endpoints go
/// direct; a base URL a tenant gave goes through the guarded client, which
/// refuses internal addresses when it connects and after a redirect.
#[derive(Clone, Debug)]
pub enum Transport {
    /// An endpoint the operator configured.
    Operator(reqwest::Client),
    /// An endpoint a tenant gave.
    Tenant(outbound::Outbound),
}

impl Transport {
    /// The client to build requests with.
    pub fn http(&self) -> &reqwest::Client {
        match self {
            Transport::Operator(c) => c,
            Transport::Tenant(o) => o.http(),
        }
    }

    async fn execute(&self, rb: RequestBuilder) -> Result<Response, Failure> {
        match self {
            Transport::Operator(_) => rb.send().await.map_err(Failure::Transport),
            Transport::Tenant(o) => o.send(rb).await.map_err(|e| match e {
                outbound::Error::Refused(r) => Failure::Refused(r.to_string()),
                outbound::Error::Transport(e) => Failure::Transport(e),
            }),
        }
    }
}

enum Failure {
    Refused(String),
    Transport(reqwest::Error),
}

/// How a provider words its failures.
pub trait ErrorShape {
    /// The provider's name.
    fn provider(&self) -> &'static str;
    /// The error a failed response stands for.
    fn classify(&self, status: StatusCode, headers: &HeaderMap, body: &str) -> LlmError;
}

/// Sends the request `build` makes, again when a retry can help, and
/// returns the first successful response (its body not yet read).
pub async fn send(
    shape: &impl ErrorShape,
    policy: &CallPolicy,
    transport: &Transport,
    build: impl Fn() -> RequestBuilder,
) -> Result<Response, LlmError> {
    let provider = shape.provider();
    let mut limited = 0;
    let mut failed = 0;
    let mut backoff = policy.backoff;
    loop {
        let res = match tokio::time::timeout(policy.timeout, transport.execute(build())).await {
            Err(_) => {
                return Err(LlmError::Timeout {
                    provider,
                    after: policy.timeout,
                })
            }
            Ok(Err(Failure::Refused(why))) => {
                return Err(LlmError::Refused {
                    provider,
                    message: format!("the endpoint is not allowed: {why}"),
                })
            }
            Ok(Err(Failure::Transport(e))) if e.is_timeout() => {
                return Err(LlmError::Timeout {
                    provider,
                    after: policy.timeout,
                })
            }
            Ok(Err(Failure::Transport(e))) => {
                return Err(LlmError::Unreachable {
                    provider,
                    message: outbound_message(e),
                })
            }
            Ok(Ok(res)) => res,
        };
        let status = res.status();
        if status.is_success() {
            return Ok(res);
        }
        let headers = res.headers().clone();
        let body = tokio::time::timeout(policy.timeout, res.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let err = shape.classify(status, &headers, &body);
        let wait = match &err {
            LlmError::RateLimited { retry_after, .. } if limited < policy.rate_limit_retries => {
                limited += 1;
                let wait = retry_after.map(Duration::from_secs).unwrap_or(backoff);
                if wait > policy.max_wait {
                    return Err(err);
                }
                wait
            }
            LlmError::Upstream { .. } if failed == 0 => {
                failed += 1;
                backoff
            }
            _ => return Err(err),
        };
        tracing::info!(
            provider,
            status = status.as_u16(),
            wait_ms = wait.as_millis() as u64,
            "retrying the provider"
        );
        tokio::time::sleep(wait).await;
        backoff *= 2;
    }
}

/// Seconds from `retry-after` (or `retry-after-ms`), when given as a number.
pub fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let get = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    get("retry-after")
        .or_else(|| get("retry-after-ms").map(|ms| ms / 1000.0))
        .map(|s| s.max(0.0).ceil() as u64)
}

/// A transport error in words, without the URL (which may carry a secret
/// a tenant put in a base URL).
fn outbound_message(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}
