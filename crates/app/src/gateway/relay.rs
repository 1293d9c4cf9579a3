//! A provider's streamed answer passed on as it arrives. Whole frames go
//! through as the very bytes received (a chunk that ends on a frame
//! boundary is not copied); the frames are only looked at for the usage
//! the provider reports at the end. That usage frame is one the gateway
//! asked for itself: a caller that did not ask for it does not get it.
//! When the stream ends, or the caller goes away, what it used is handed
//! to the meter.

use bytes::{Bytes, BytesMut};
use domain::llm::Usage;
use futures::Stream;
use serde::Deserialize;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A stream of body bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// Told once, when the stream ends or is dropped: the usage the provider
/// reported, or `None` and the number of content frames seen.
pub type OnEnd = Box<dyn FnOnce(Option<Usage>, u64) + Send>;

/// The relay of one streamed answer.
pub struct Relay {
    upstream: ByteStream,
    pending: BytesMut,
    strip_usage: bool,
    usage: Option<Usage>,
    frames: u64,
    on_end: Option<OnEnd>,
}

#[derive(Deserialize)]
struct UsageFrame {
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    choices: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// Where the first frame boundary (`\n\n`) at or after `from` ends.
fn boundary(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| from + i + 2)
}

impl Relay {
    /// Relays `upstream`; `strip_usage` drops the usage-only frame.
    pub fn new(
        upstream: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
        strip_usage: bool,
        on_end: OnEnd,
    ) -> Self {
        Self {
            upstream: Box::pin(upstream),
            pending: BytesMut::new(),
            strip_usage,
            usage: None,
            frames: 0,
            on_end: Some(on_end),
        }
    }

    /// Looks at whole frames; returns them, less a usage-only frame to strip.
    fn inspect(&mut self, frames: Bytes) -> Bytes {
        let mut start = 0;
        let mut keep: Option<BytesMut> = None;
        while let Some(end) = boundary(&frames, start) {
            let frame = &frames[start..end];
            let mut dropped = false;
            if let Some(json) = frame
                .strip_prefix(b"data:")
                .map(|d| d.trim_ascii())
                .filter(|d| d.first() == Some(&b'{'))
            {
                if writes_something(json) {
                    self.frames += 1;
                }
                if contains(json, b"\"usage\"") {
                    if let Ok(f) = serde_json::from_slice::<UsageFrame>(json) {
                        if let Some(u) = f.usage {
                            self.usage = Some(Usage {
                                input_tokens: u.prompt_tokens,
                                output_tokens: u.completion_tokens,
                            });
                            if self.strip_usage && f.choices.is_empty() {
                                dropped = true;
                            }
                        }
                    }
                }
            }
            if dropped {
                keep.get_or_insert_with(|| BytesMut::from(&frames[..start]));
            } else if let Some(k) = keep.as_mut() {
                k.extend_from_slice(frame);
            }
            start = end;
        }
        match keep {
            Some(mut k) => {
                k.extend_from_slice(&frames[start..]);
                k.freeze()
            }
            None => frames,
        }
    }

    fn end(&mut self) {
        if let Some(f) = self.on_end.take() {
            f(self.usage, self.frames);
        }
    }
}

/// Whether a chunk carries generated text or tool arguments (about a
/// token each): what is counted when a stream ends without its usage.
fn writes_something(json: &[u8]) -> bool {
    [&b"\"content\":\""[..], &b"\"arguments\":\""[..]]
        .iter()
        .any(|key| {
            json.windows(key.len())
                .position(|w| w == *key)
                .is_some_and(|i| json.get(i + key.len()) != Some(&b'"'))
        })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

impl Stream for Relay {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.upstream.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    let whole = if self.pending.is_empty() && chunk.ends_with(b"\n\n") {
                        chunk
                    } else {
                        let from = self.pending.len().saturating_sub(1);
                        self.pending.extend_from_slice(&chunk);
                        let mut last = None;
                        let mut at = from;
                        while let Some(end) = boundary(&self.pending, at) {
                            last = Some(end);
                            at = end;
                        }
                        match last {
                            Some(end) => self.pending.split_to(end).freeze(),
                            None => continue,
                        }
                    };
                    let out = self.inspect(whole);
                    if out.is_empty() {
                        continue;
                    }
                    return Poll::Ready(Some(Ok(out)));
                }
                Poll::Ready(Some(Err(e))) => {
                    self.end();
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    self.end();
                    if self.pending.is_empty() {
                        return Poll::Ready(None);
                    }
                    let rest = self.pending.split().freeze();
                    return Poll::Ready(Some(Ok(rest)));
                }
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<Option<(Option<Usage>, u64)>>>;

    async fn relay(chunks: &[&str], strip: bool) -> (String, Seen) {
        let seen: Seen = Arc::default();
        let s = seen.clone();
        let up = futures::stream::iter(
            chunks
                .iter()
                .map(|c| Ok(Bytes::from(c.to_string())))
                .collect::<Vec<_>>(),
        );
        let r = Relay::new(
            up,
            strip,
            Box::new(move |u, n| *s.lock().unwrap() = Some((u, n))),
        );
        let out: Vec<_> = r.collect().await;
        let body = out
            .into_iter()
            .map(|b| String::from_utf8(b.unwrap().to_vec()).unwrap())
            .collect();
        (body, seen)
    }

    const FRAMES: [&str; 4] = [
        "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}\n\n",
        "data: [DONE]\n\n",
    ];

    #[tokio::test]
    async fn frames_split_anywhere_come_out_whole_and_unchanged() {
        let all = FRAMES.concat();
        let (a, b) = all.split_at(37);
        let (b, c) = b.split_at(50);
        let (body, seen) = relay(&[a, b, c], false).await;
        assert_eq!(body, all);
        let (usage, _) = seen.lock().unwrap().unwrap();
        assert_eq!(usage.unwrap().input_tokens, 5);
    }

    #[tokio::test]
    async fn the_usage_frame_the_caller_did_not_ask_for_is_left_out() {
        let (body, seen) = relay(&FRAMES, true).await;
        assert!(!body.contains("usage"), "{body}");
        assert!(body.ends_with("data: [DONE]\n\n"));
        assert_eq!(seen.lock().unwrap().unwrap().0.unwrap().output_tokens, 1);
    }

    #[tokio::test]
    async fn a_stream_without_usage_reports_its_content_frames() {
        let (_, seen) = relay(&FRAMES[..2], false).await;
        let (usage, frames) = seen.lock().unwrap().unwrap();
        assert!(usage.is_none());
        assert_eq!(frames, 1, "the role frame's empty content is not counted");
    }
}
