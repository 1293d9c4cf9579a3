//! The port for sending email (invitations now; notifications later).

use std::future::Future;
use std::pin::Pin;

/// One plain-text message.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body. May hold a one-time link: never log it.
    pub body: String,
}

impl std::fmt::Debug for OutgoingEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingEmail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
#[error("email could not be sent: {0}")]
pub struct EmailError(pub String);

/// Sends email. Adapters: SMTP for production, an outbox directory as the
/// embedded default, an in-memory outbox in tests.
pub trait EmailSender: Send + Sync {
    /// Sends one message.
    fn send<'a>(
        &'a self,
        email: OutgoingEmail,
    ) -> Pin<Box<dyn Future<Output = Result<(), EmailError>> + Send + 'a>>;
}
