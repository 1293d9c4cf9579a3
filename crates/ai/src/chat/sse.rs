//! Server-sent events, decoded from a response body as it arrives.
//!
//! Written here rather than taken from a crate: the format is a few lines
//! of the WHATWG spec (fields per line, an empty line ends an event), and
//! the crates that decode it pull in a parser combinator library for that.

use bytes::{Buf, BytesMut};
use futures::{Stream, StreamExt};

/// One event: its `event:` name, if any, and its `data:` lines joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The event's type (`message_start`…), if the server named it.
    pub event: Option<String>,
    /// The data.
    pub data: String,
}

/// Decodes events from chunks of a body; chunks may split lines anywhere.
#[derive(Default)]
pub struct SseDecoder {
    buf: BytesMut,
    event: Option<String>,
    data: Vec<String>,
}

impl SseDecoder {
    /// Feeds a chunk; returns the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
            let mut line = &self.buf[..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let line = String::from_utf8_lossy(line).into_owned();
            self.buf.advance(end + 1);
            if line.is_empty() {
                if !self.data.is_empty() {
                    out.push(SseEvent {
                        event: self.event.take(),
                        data: std::mem::take(&mut self.data).join("\n"),
                    });
                }
                self.event = None;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.event = Some(value.to_string()),
                "data" => self.data.push(value.to_string()),
                _ => {}
            }
        }
        out
    }
}

/// The events of a body stream; a transport error ends it with that error.
pub fn events<S, E>(body: S) -> impl Stream<Item = Result<SseEvent, E>> + Send
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Send + 'static,
    E: Send + 'static,
{
    let mut decoder = SseDecoder::default();
    body.flat_map(move |chunk| {
        let items: Vec<Result<SseEvent, E>> = match chunk {
            Ok(bytes) => decoder.feed(&bytes).into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        futures::stream::iter(items)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_are_reassembled() {
        let mut d = SseDecoder::default();
        assert!(d.feed(b"event: ping\ndata: {\"a\"").is_empty());
        let got = d.feed(b":1}\r\n\r\ndata: [DONE]\n\n");
        assert_eq!(
            got,
            vec![
                SseEvent {
                    event: Some("ping".into()),
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    event: None,
                    data: "[DONE]".into()
                },
            ]
        );
    }

    #[test]
    fn comments_and_unknown_fields_are_skipped() {
        let mut d = SseDecoder::default();
        let got = d.feed(b": OPENROUTER PROCESSING\n\nid: 7\ndata: x\n\n");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data, "x");
    }
}
