//! Turning a provider's event stream into [`ChatEvent`]s.

use super::sse;
use domain::llm::{ChatEvent, ChatStream, LlmError};
use futures::StreamExt;
use std::collections::VecDeque;
use std::time::Duration;

/// A provider's reading of its own stream events.
pub trait Decode: Send + 'static {
    /// The provider's name.
    fn provider(&self) -> &'static str;
    /// The chat events one stream event stands for, and whether it ended
    /// the answer.
    fn event(&mut self, name: Option<&str>, data: &str)
        -> Result<(Vec<ChatEvent>, bool), LlmError>;
}

/// The answer streamed in `res`, read with `decoder`. A pause longer than
/// `idle` between two chunks ends it with a timeout; a body that stops
/// before the answer's end is an error, not a short answer.
pub fn decode(res: reqwest::Response, decoder: impl Decode, idle: Duration) -> ChatStream {
    let provider = decoder.provider();
    let events = Box::pin(sse::events(res.bytes_stream()));
    let state = (events, decoder, VecDeque::new(), false);
    Box::pin(futures::stream::unfold(
        state,
        move |(mut events, mut decoder, mut pending, mut finished)| async move {
            loop {
                if let Some(ev) = pending.pop_front() {
                    return Some((Ok(ev), (events, decoder, pending, finished)));
                }
                if finished {
                    return None;
                }
                let failure = match tokio::time::timeout(idle, events.next()).await {
                    Err(_) => LlmError::Timeout {
                        provider,
                        after: idle,
                    },
                    Ok(Some(Ok(ev))) => match decoder.event(ev.event.as_deref(), &ev.data) {
                        Ok((out, done)) => {
                            pending.extend(out);
                            finished = done;
                            continue;
                        }
                        Err(e) => e,
                    },
                    Ok(Some(Err(e))) => LlmError::Unreachable {
                        provider,
                        message: format!("the stream broke: {}", e.without_url()),
                    },
                    Ok(None) => LlmError::Unreachable {
                        provider,
                        message: "the stream ended before the answer did".into(),
                    },
                };
                finished = true;
                return Some((Err(failure), (events, decoder, pending, finished)));
            }
        },
    ))
}
