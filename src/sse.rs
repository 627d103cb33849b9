//! SSE framing: events with ids, priming events, `retry:` and keep-alive comments, and the
//! stream adapters that turn hub events into framed bytes.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_timer::Delay;
use futures_util::{FutureExt, Stream};
use web_time::Instant;

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
    /// When the stream last yielded bytes. An item only notes the time; the timer, when it
    /// fires, re-arms for what is left of the interval. (Restarting the timer on every item
    /// costs a Worker two runtime calls and a callback allocation per event, on every open
    /// stream a broadcast reaches.)
    last_sent: Instant,
}

impl<S> KeepAlive<S> {
    pub(crate) fn new(inner: S, interval: Duration) -> Self {
        Self {
            inner,
            interval,
            timer: Delay::new(interval),
            last_sent: Instant::now(),
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
            this.last_sent = Instant::now();
            return Poll::Ready(item);
        }
        while this.timer.poll_unpin(cx).is_ready() {
            let idle = this.last_sent.elapsed();
            if idle >= this.interval {
                this.last_sent = Instant::now();
                this.timer.reset(this.interval);
                return Poll::Ready(Some(Ok(Bytes::from_static(KEEP_ALIVE))));
            }
            this.timer.reset(this.interval - idle);
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

    /// Items closer together than the interval carry no keep-alive between them; once the
    /// stream goes quiet, one follows a full interval after the last item.
    #[tokio::test]
    async fn keep_alive_only_after_a_quiet_interval() {
        const INTERVAL: Duration = Duration::from_millis(150);
        let items = futures_util::stream::unfold(0, |n| async move {
            if n == 8 {
                return futures_util::future::pending().await;
            }
            Delay::new(Duration::from_millis(25)).await;
            Some((Ok::<_, ()>(Bytes::from(format!("item {n}"))), n + 1))
        });
        let mut stream = KeepAlive::new(Box::pin(items), INTERVAL);
        for n in 0..8 {
            let item = futures_util::StreamExt::next(&mut stream).await;
            assert_eq!(item, Some(Ok(Bytes::from(format!("item {n}")))));
        }
        let last_item = Instant::now();
        let next = futures_util::StreamExt::next(&mut stream).await;
        assert_eq!(next, Some(Ok(Bytes::from_static(KEEP_ALIVE))));
        // Measured from a moment just after the item left, so allow a little slack; a timer
        // still on its first schedule would have fired about 100 ms after the last item.
        assert!(last_item.elapsed() >= INTERVAL - Duration::from_millis(20));
    }
}
