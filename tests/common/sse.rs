//! A small SSE reader for tests: parses fields per the SSE format and keeps comments, so
//! tests can assert priming events, retry fields and keep-alives.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use http_body::Body;
use http_body_util::BodyExt;
use serde_json::Value;

use http::Response;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: Option<String>,
    pub retry: Option<u64>,
    pub comments: Vec<String>,
}

impl SseEvent {
    pub fn json(&self) -> Option<Value> {
        self.data
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
    }

    pub fn is_priming(&self) -> bool {
        self.id.is_some() && self.data.as_deref() == Some("")
    }

    pub fn is_comment_only(&self) -> bool {
        self.id.is_none()
            && self.data.is_none()
            && self.retry.is_none()
            && !self.comments.is_empty()
    }
}

pub struct SseReader<B> {
    body: B,
    buffer: BytesMut,
    pub timeout: Duration,
}

impl<B> SseReader<B>
where
    B: Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::fmt::Debug,
{
    pub fn new(response: Response<B>) -> Self {
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            body: response.into_body(),
            buffer: BytesMut::new(),
            timeout: Duration::from_secs(5),
        }
    }

    /// The next block (event or comment), or `None` when the stream ends or stays silent for
    /// the timeout.
    pub async fn next_block(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = find_block_end(&self.buffer) {
                let block = self.buffer.split_to(end.0);
                self.buffer.advance(end.1);
                return Some(parse_block(std::str::from_utf8(&block).unwrap()));
            }
            let frame = tokio::time::timeout(self.timeout, self.body.frame())
                .await
                .ok()??;
            let frame = frame.expect("body error");
            if let Ok(data) = frame.into_data() {
                self.buffer.extend_from_slice(&data);
            }
        }
    }

    /// The next event with data or an id (comments skipped).
    pub async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            let block = self.next_block().await?;
            if !block.is_comment_only() && (block.id.is_some() || block.data.is_some()) {
                return Some(block);
            }
        }
    }

    /// The next event carrying a JSON message.
    pub async fn next_message(&mut self) -> Option<(SseEvent, Value)> {
        loop {
            let event = self.next_event().await?;
            if let Some(json) = event.json() {
                return Some((event, json));
            }
        }
    }

    /// Whether the stream ended (rather than staying open) within the timeout.
    /// Whether the stream ends with no further event (a closing `retry:` hint or comment is
    /// not an event).
    pub async fn ended(&mut self) -> bool {
        loop {
            match tokio::time::timeout(self.timeout, self.body.frame()).await {
                Ok(None) => return true,
                Ok(Some(Ok(frame))) => match frame.data_ref() {
                    Some(bytes) if bytes.windows(5).any(|w| w == b"data:") => return false,
                    _ => continue,
                },
                Ok(Some(Err(_))) | Err(_) => return false,
            }
        }
    }

    pub fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }
}

fn find_block_end(buffer: &[u8]) -> Option<(usize, usize)> {
    buffer
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|at| (at, 2))
}

fn parse_block(block: &str) -> SseEvent {
    let mut event = SseEvent::default();
    for line in block.split('\n') {
        if let Some(comment) = line.strip_prefix(':') {
            event.comments.push(comment.trim().to_owned());
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => event.id = Some(value.to_owned()),
            "event" => event.event = Some(value.to_owned()),
            "retry" => event.retry = value.parse().ok(),
            "data" => {
                let data = event.data.get_or_insert_with(String::new);
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            }
            _ => {}
        }
    }
    event
}
