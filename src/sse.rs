//! SSE framing: events with ids, priming events, `retry:` and keep-alive comments, and the
//! stream adapters that turn hub events into framed bytes.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_timer::Delay;
use futures_util::{FutureExt, Stream};

use crate::hub::EventId;

/// `id: …` / `event: …` / `data: …` lines of one event; multi-line data is split into several
/// `data:` lines as the SSE format requires.
pub(crate) fn event(id: Option<&EventId>, kind: Option<&str>, data: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 32);
    if let Some(id) = id {
        out.put_slice(format!("id: {id}\n").as_bytes());
    }
    if let Some(kind) = kind.filter(|k| !k.is_empty() && *k != "message") {
        out.put_slice(format!("event: {kind}\n").as_bytes());
    }
    for line in data.split('\n') {
        out.put_slice(b"data: ");
        out.put_slice(line.trim_end_matches('\r').as_bytes());
        out.put_u8(b'\n');
    }
    out.put_u8(b'\n');
    out.freeze()
}

/// The priming event (SEP-1699): an id and empty data, with the reconnection delay, so a
/// client can resume from here even if the stream closes before any message.
pub(crate) fn priming(id: &EventId, retry: Duration) -> Bytes {
    Bytes::from(format!(
        "id: {id}\nretry: {}\ndata: \n\n",
        retry.as_millis()
    ))
}

/// The reconnection delay announced before the hub ends a stream on purpose.
pub(crate) const RESUME_AT_ONCE: Duration = Duration::from_millis(250);

/// A `retry:` field alone, sent before the server closes a stream on purpose.
pub(crate) fn retry(retry: Duration) -> Bytes {
    Bytes::from(format!("retry: {}\n\n", retry.as_millis()))
}

/// A comment line that keeps idle connections (and proxies) from timing out.
pub(crate) const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// Interleaves keep-alive comments into a byte stream whenever it has been idle for
/// `interval`. Runtime-agnostic: the timer comes from `futures-timer`.
pub(crate) struct KeepAlive<S> {
    inner: S,
    interval: Duration,
    timer: Delay,
}

impl<S> KeepAlive<S> {
    pub(crate) fn new(inner: S, interval: Duration) -> Self {
        Self {
            inner,
            interval,
            timer: Delay::new(interval),
        }
    }
}

impl<S, E> Stream for KeepAlive<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            this.timer.reset(this.interval);
            return Poll::Ready(item);
        }
        if this.timer.poll_unpin(cx).is_ready() {
            this.timer.reset(this.interval);
            return Poll::Ready(Some(Ok(Bytes::from_static(KEEP_ALIVE))));
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::StreamKey;

    #[test]
    fn frames_events() {
        let id = EventId::new(StreamKey::standalone(), 3);
        assert_eq!(
            event(Some(&id), None, "{\"a\":1}"),
            "id: g.3\ndata: {\"a\":1}\n\n"
        );
        assert_eq!(
            event(None, Some("ping"), "a\nb"),
            "event: ping\ndata: a\ndata: b\n\n"
        );
        assert_eq!(
            priming(&id, Duration::from_millis(500)),
            "id: g.3\nretry: 500\ndata: \n\n"
        );
    }
}
