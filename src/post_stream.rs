//! The SSE response of a legacy POST: each event of the inner service's stream gets a
//! session-unique id, a priming event opens it, and what the client did not receive (it
//! disconnected, or the handler closed the stream for polling) is kept in the hub for
//! resumption with GET + `Last-Event-ID`.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::task::AtomicWaker;
use futures_util::{Stream, StreamExt};
use serde_json::value::RawValue;

use crate::body::{BoxError, InnerResponseBody};
use crate::context::SessionId;
use crate::hub::{Event, EventId, StreamHub, StreamKey};
use crate::inner::{inner_events, InnerEvents};
use crate::layer::Executor;
use crate::protocol::jsonrpc::{code, error_body};
use crate::sse;

/// Lets a handler end its POST response stream early (SSE polling, SEP-1699): the client
/// reconnects with GET + `Last-Event-ID` and receives the rest of the response there.
///
/// The layer puts one into the extensions of every legacy request it forwards. Closing only
/// takes effect when the response is an SSE stream and the layer has an executor to finish
/// the response in the background (see [`SessionLayer::with_executor`]).
///
/// [`SessionLayer::with_executor`]: crate::SessionLayer::with_executor
#[derive(Clone, Default)]
pub struct StreamControl {
    shared: Arc<ControlState>,
}

#[derive(Default)]
struct ControlState {
    closed: AtomicBool,
    waker: AtomicWaker,
}

impl StreamControl {
    /// Ends the client's connection for this response after the events already written; the
    /// handler keeps running and its later events wait in the hub for the client.
    pub fn close_sse_stream(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.waker.wake();
    }

    fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

impl fmt::Debug for StreamControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamControl")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Where the stream's undelivered events go.
pub(crate) struct Sink {
    pub(crate) session: SessionId,
    pub(crate) hub: Arc<dyn StreamHub>,
    pub(crate) executor: Option<Arc<Executor>>,
    pub(crate) detached: Arc<Detached>,
}

/// How many POST responses may go on in the background after their client left, at once:
/// each holds a running handler, so clients that open long requests and leave could
/// otherwise make the server hold any number of them. Past the limit a leaving client's
/// request is cancelled, as without an executor.
#[derive(Debug)]
pub(crate) struct Detached {
    limit: usize,
    running: AtomicUsize,
}

/// How long a detached response may run: its events are kept for resumption no longer than
/// a hub keeps events anyway.
const DETACHED_LIFETIME: Duration = Duration::from_secs(10 * 60);

impl Detached {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            running: AtomicUsize::new(0),
        })
    }

    /// A slot for one more detached response, if the limit allows.
    fn start(self: &Arc<Self>) -> Option<DetachedSlot> {
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                (running < self.limit).then_some(running + 1)
            })
            .ok()
            .map(|_| DetachedSlot(self.clone()))
    }
}

/// Frees its slot when the detached response ends.
struct DetachedSlot(Arc<Detached>);

impl Drop for DetachedSlot {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How many already-sent events a stream keeps: a connection that breaks may not have carried
/// the last ones to the client, so they are kept for its resumption too.
const RECENT_EVENTS: usize = 32;

/// The framed SSE stream of a legacy POST response.
pub(crate) struct PostStream {
    events: Option<InnerEvents>,
    /// The requests of the POST not answered yet: if the inner stream fails, each gets an
    /// error event, so no client waits for an answer that will not come.
    unanswered: Vec<Box<RawValue>>,
    key: StreamKey,
    seq: u64,
    recent: VecDeque<Event>,
    priming: Option<Bytes>,
    control: StreamControl,
    sink: Sink,
}

impl PostStream {
    pub(crate) fn new<B>(
        body: B,
        requests: Vec<Box<RawValue>>,
        control: StreamControl,
        sink: Sink,
        priming: bool,
        retry: Duration,
    ) -> Self
    where
        B: InnerResponseBody,
    {
        let key = StreamKey::new_post();
        let priming = priming.then(|| sse::priming(&EventId::new(key.clone(), 0), retry));
        Self {
            events: Some(inner_events(body)),
            unanswered: requests,
            key,
            seq: 0,
            recent: VecDeque::new(),
            priming,
            control,
            sink,
        }
    }

    fn next_id(&mut self) -> EventId {
        self.seq += 1;
        EventId::new(self.key.clone(), self.seq)
    }

    /// Hands the unfinished rest of the inner stream to a background task that keeps its
    /// events for the client's resumption. Without an executor the rest is cancelled.
    fn detach(&mut self) {
        let Some(mut events) = self.events.take() else {
            return;
        };
        let Some(executor) = self.sink.executor.clone() else {
            tracing::debug!(
                stream = self.key.as_str(),
                "POST stream closed early; response cancelled (no executor)"
            );
            return;
        };
        let Some(slot) = self.sink.detached.start() else {
            tracing::warn!(
                session = %self.sink.session.log_tag(),
                limit = self.sink.detached.limit,
                "POST stream closed early; response cancelled (too many detached responses)"
            );
            return;
        };
        let (hub, session, key, mut seq) = (
            self.sink.hub.clone(),
            self.sink.session.clone(),
            self.key.clone(),
            self.seq,
        );
        let recent = std::mem::take(&mut self.recent);
        let finish = async move {
            let record = |event: Event| {
                let (hub, session) = (hub.clone(), session.clone());
                async move {
                    if let Err(error) = hub.record(&session, event).await {
                        tracing::warn!(%error, session = %session.log_tag(), "could not keep a POST stream event for resumption");
                    }
                }
            };
            for event in recent {
                record(event).await;
            }
            while let Some(Ok((_, data))) = events.next().await {
                seq += 1;
                record(Event {
                    id: EventId::new(key.clone(), seq),
                    data: data.into(),
                })
                .await;
            }
        };
        executor(Box::pin(async move {
            let lifetime = futures_timer::Delay::new(DETACHED_LIFETIME);
            futures_util::future::select(Box::pin(finish), lifetime).await;
            drop(slot);
        }));
    }
}

impl Stream for PostStream {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(priming) = self.priming.take() {
            return Poll::Ready(Some(Ok(priming)));
        }
        self.control.shared.waker.register(cx.waker());
        if self.control.is_closed() && self.sink.executor.is_some() {
            self.detach();
            return Poll::Ready(None);
        }
        let Some(events) = self.events.as_mut() else {
            return Poll::Ready(None);
        };
        match events.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok((kind, data)))) => {
                if let Some(answered) = answered_request(&data) {
                    self.unanswered.retain(|id| id.get() != answered.get());
                }
                let id = self.next_id();
                let framed = sse::event(Some(&id), Some(&kind), &data);
                if self.recent.len() == RECENT_EVENTS {
                    self.recent.pop_front();
                }
                self.recent.push_back(Event {
                    id,
                    data: data.into(),
                });
                Poll::Ready(Some(Ok(framed)))
            }
            Poll::Ready(Some(Err(error))) => {
                self.events = None;
                tracing::warn!(%error, session = %self.sink.session.log_tag(), "inner answer stream failed");
                let message = "Internal error: the server's answer stream failed";
                let mut framed = BytesMut::new();
                for request in std::mem::take(&mut self.unanswered) {
                    let id = self.next_id();
                    let body = error_body(Some(&request), code::INTERNAL_ERROR, message, None);
                    framed.extend_from_slice(&sse::event(Some(&id), None, &body));
                }
                Poll::Ready(Some(Ok(framed.freeze())))
            }
            Poll::Ready(None) => {
                self.events = None;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The id of the request a message answers, if it is a response.
fn answered_request(message: &str) -> Option<Box<RawValue>> {
    #[derive(serde::Deserialize)]
    struct Shape {
        #[serde(default)]
        id: Option<Box<RawValue>>,
        #[serde(default)]
        method: Option<serde::de::IgnoredAny>,
    }
    let shape: Shape = serde_json::from_str(message).ok()?;
    shape.method.is_none().then_some(shape.id).flatten()
}

impl Drop for PostStream {
    fn drop(&mut self) {
        // The client went away before the response was complete. In the legacy era a
        // disconnect is not a cancellation: finish the response for a later resumption.
        self.detach();
    }
}
