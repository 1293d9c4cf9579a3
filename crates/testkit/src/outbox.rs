//! An email sender that keeps messages in memory for tests to read, and can
//! be told to fail like an unreachable mail server.

use domain::email::{EmailError, EmailSender, OutgoingEmail};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Messages sent, in order.
#[derive(Default)]
pub struct MemoryOutbox {
    sent: Mutex<Vec<OutgoingEmail>>,
    failing: AtomicBool,
}

impl MemoryOutbox {
    /// Everything sent so far.
    pub fn sent(&self) -> Vec<OutgoingEmail> {
        self.sent.lock().unwrap().clone()
    }

    /// The last message to `to`.
    pub fn last_to(&self, to: &str) -> Option<OutgoingEmail> {
        self.sent().into_iter().rev().find(|e| e.to == to)
    }

    /// Makes every send fail (or work again).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl EmailSender for MemoryOutbox {
    fn send<'a>(
        &'a self,
        email: OutgoingEmail,
    ) -> Pin<Box<dyn Future<Output = Result<(), EmailError>> + Send + 'a>> {
        Box::pin(async move {
            if self.failing.load(Ordering::SeqCst) {
                return Err(EmailError(
                    "connection refused (test outbox set to fail)".into(),
                ));
            }
            self.sent.lock().unwrap().push(email);
            Ok(())
        })
    }
}
