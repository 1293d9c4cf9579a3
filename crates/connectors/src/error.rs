//! What goes wrong talking to a provider, normalised across providers.

use serde::Serialize;
use std::time::Duration;

/// A provider's complaint about one field.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldError {
    /// The field as the provider names it.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Why a connector call failed. Never carries a credential.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The provider refused the credentials (revoked, wrong, expired beyond
    /// refresh): the connection needs reconnecting, retrying will not help.
    #[error("{provider} refused the credentials: {message}")]
    Unauthorized {
        /// Provider name.
        provider: &'static str,
        /// What it said.
        message: String,
    },
    /// The credentials are fine but not allowed to do this.
    #[error("{provider} does not allow this: {message}")]
    Forbidden {
        /// Provider name.
        provider: &'static str,
        /// What it said.
        message: String,
    },
    /// The provider rejected what was sent, field by field where it says.
    #[error("{provider} rejected the record: {message}")]
    Invalid {
        /// Provider name.
        provider: &'static str,
        /// What it said overall.
        message: String,
        /// What it said per field.
        fields: Vec<FieldError>,
    },
    /// No such record at the provider.
    #[error("{provider} has no {what}")]
    NotFound {
        /// Provider name.
        provider: &'static str,
        /// What was looked for.
        what: String,
    },
    /// Still rate limited after the retries allowed.
    #[error("{provider} is rate limiting this connection; try again in {} s", retry_after.as_secs().max(1))]
    RateLimited {
        /// Provider name.
        provider: &'static str,
        /// How long it asked to wait.
        retry_after: Duration,
    },
    /// The provider failed (5xx) or answered something unreadable, after retries.
    #[error("{provider} failed: {message}")]
    Upstream {
        /// Provider name.
        provider: &'static str,
        /// What happened.
        message: String,
    },
    /// The provider could not be reached (connection refused, timeout, DNS).
    #[error("{provider} could not be reached: {message}")]
    Unreachable {
        /// Provider name.
        provider: &'static str,
        /// What happened.
        message: String,
    },
    /// The address is internal and this server does not call it.
    #[error("{0}")]
    Refused(String),
    /// The connection's settings or the request are unusable as given.
    #[error("{0}")]
    BadRequest(String),
}

impl ConnectorError {
    /// Whether the connection must be made again before it works.
    pub fn needs_reconnect(&self) -> bool {
        matches!(self, Self::Unauthorized { .. })
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Upstream { .. } | Self::Unreachable { .. }
        )
    }
}
