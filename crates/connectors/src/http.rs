//! The HTTP machinery every connector shares: the guarded client, retries
//! with exponential backoff and full jitter on 5xx, timeouts and dropped
//! connections, `Retry-After` honoured on 429 and 503, and a per-connection
//! gate, so that once a provider has said "wait", every call of that
//! connection waits rather than adding to a 429 storm.

use crate::ConnectorError;
use rand::Rng;
use reqwest::{header, Response, StatusCode};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// How hard to try.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub attempts: u32,
    /// First backoff; doubled on each further failure.
    pub base: Duration,
    /// Longest backoff between two attempts.
    pub max_backoff: Duration,
    /// Longest `Retry-After` waited out; a longer one fails the call with
    /// [`ConnectorError::RateLimited`] (a sync retries it later).
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            base: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// The client connectors call providers with. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Http {
    out: outbound::Outbound,
    retry: RetryPolicy,
}

/// A connection's pause: no call goes out before it ends.
#[derive(Debug, Default)]
pub struct Gate {
    until: Mutex<Option<Instant>>,
}

impl Gate {
    async fn wait(&self) {
        let until = *self.until.lock().expect("the gate is never poisoned");
        if let Some(t) = until {
            tokio::time::sleep_until(t).await;
        }
    }

    fn pause(&self, d: Duration) {
        let t = Instant::now() + d;
        let mut until = self.until.lock().expect("the gate is never poisoned");
        if until.is_none_or(|u| u < t) {
            *until = Some(t);
        }
    }
}

impl Http {
    /// Calls through `out` (SSRF-guarded, with its timeout), retrying as
    /// `retry` says.
    pub fn new(out: outbound::Outbound, retry: RetryPolicy) -> Self {
        Self { out, retry }
    }

    /// Where calls may go.
    pub fn policy(&self) -> &outbound::Policy {
        self.out.policy()
    }

    /// Sends the request `build` makes (once per attempt) and returns the
    /// first answer that is neither a 429 nor a 5xx, or the normalised
    /// error once the attempts are spent.
    pub async fn send(
        &self,
        provider: &'static str,
        gate: &Gate,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Response, ConnectorError> {
        let mut failures = 0u32;
        loop {
            gate.wait().await;
            let outcome = self.out.send(build(self.out.http())).await;
            failures += 1;
            let last = failures >= self.retry.attempts;
            let wait = match outcome {
                Err(outbound::Error::Refused(r)) => {
                    return Err(ConnectorError::Refused(r.to_string()))
                }
                Err(outbound::Error::Transport(e)) => {
                    if last || !(e.is_timeout() || e.is_connect() || e.is_request()) {
                        return Err(ConnectorError::Unreachable {
                            provider,
                            message: transport_message(&e),
                        });
                    }
                    tracing::debug!(provider, error = %e, failures, "retrying after a transport error");
                    self.backoff(failures)
                }
                Ok(resp) if resp.status() == StatusCode::TOO_MANY_REQUESTS => {
                    let asked = retry_after(&resp).unwrap_or_else(|| self.backoff(failures));
                    gate.pause(asked);
                    if last || asked > self.retry.max_wait {
                        return Err(ConnectorError::RateLimited {
                            provider,
                            retry_after: asked,
                        });
                    }
                    tracing::debug!(
                        provider,
                        wait_ms = asked.as_millis() as u64,
                        "rate limited; waiting"
                    );
                    continue;
                }
                Ok(resp) if resp.status().is_server_error() => {
                    let status = resp.status();
                    let asked = retry_after(&resp);
                    if last || asked.is_some_and(|a| a > self.retry.max_wait) {
                        let body = resp.text().await.unwrap_or_default();
                        return Err(ConnectorError::Upstream {
                            provider,
                            message: format!(
                                "{status} after {failures} attempts: {}",
                                excerpt(&body)
                            ),
                        });
                    }
                    tracing::debug!(provider, %status, failures, "retrying after a server error");
                    asked.unwrap_or_else(|| self.backoff(failures))
                }
                Ok(resp) => return Ok(resp),
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Exponential backoff with full jitter after `failures` failures.
    fn backoff(&self, failures: u32) -> Duration {
        let exp = self
            .retry
            .base
            .saturating_mul(1 << failures.saturating_sub(1).min(16))
            .min(self.retry.max_backoff);
        exp.mul_f64(rand::rng().random_range(0.5..=1.0))
    }
}

/// `Retry-After` in seconds or as an HTTP date.
fn retry_after(resp: &Response) -> Option<Duration> {
    let v = resp
        .headers()
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or_default(),
    )
}

/// A transport error without the URL (whose query could carry a token).
fn transport_message(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {cause}")
    }
}

/// The start of a body, for messages.
pub fn excerpt(body: &str) -> String {
    let trimmed = body.trim();
    match trimmed.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &trimmed[..i]),
        None => trimmed.to_string(),
    }
}
