//! Noticing that a client went away. workerd does not cancel a streamed response body when
//! its client disconnects, so an SSE stream (and the hub WebSocket behind it) would live on;
//! the request's `AbortSignal` (compatibility flag `enable_request_signal`) does fire.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_channel::oneshot;
use http_body::{Body, Frame, SizeHint};
use worker::send::SendWrapper;
use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::JsCast;
use worker::AbortSignal;

/// A response body that ends, dropping the body it wraps, when the client disconnects.
///
/// It starts watching the signal only once the body has to wait for something: a body that
/// is ready at once (every plain JSON answer) never registers a listener.
///
/// ```ignore
/// let signal = request.extensions().get::<worker::AbortSignal>().cloned();
/// let response = service.oneshot(request).await?;
/// Ok(response.map(|body| EndOnDisconnect::new(body, signal)))
/// ```
pub struct EndOnDisconnect<B> {
    inner: Option<Pin<Box<B>>>,
    /// The signal, until the body first waits and a listener takes it over.
    signal: Option<SendWrapper<AbortSignal>>,
    disconnected: Option<oneshot::Receiver<()>>,
    _listener: Option<SendWrapper<Listener>>,
}

struct Listener {
    signal: AbortSignal,
    on_abort: Closure<dyn FnMut()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self
            .signal
            .remove_event_listener_with_callback("abort", self.on_abort.as_ref().unchecked_ref());
    }
}

impl<B> EndOnDisconnect<B> {
    /// Wraps `body`, watching `signal` (the request's; `None` watches nothing).
    pub fn new(body: B, signal: Option<AbortSignal>) -> Self {
        Self {
            inner: Some(Box::pin(body)),
            signal: signal.map(SendWrapper::new),
            disconnected: None,
            _listener: None,
        }
    }

    /// Starts listening for the signal's abort; whether the client is already gone.
    fn watch(&mut self, signal: AbortSignal) -> bool {
        if signal.aborted() {
            return true;
        }
        let (sender, receiver) = oneshot::channel();
        let mut sender = Some(sender);
        let on_abort = Closure::<dyn FnMut()>::new(move || {
            if let Some(sender) = sender.take() {
                let _ = sender.send(());
            }
        });
        if signal
            .add_event_listener_with_callback("abort", on_abort.as_ref().unchecked_ref())
            .is_ok()
        {
            self.disconnected = Some(receiver);
            self._listener = Some(SendWrapper::new(Listener { signal, on_abort }));
        }
        false
    }

    /// Whether the client went away (registering `cx` to hear when it does).
    fn poll_disconnected(&mut self, cx: &mut Context<'_>) -> bool {
        if let Some(signal) = self.signal.take() {
            if self.watch(signal.0) {
                return true;
            }
        }
        self.disconnected.as_mut().is_some_and(|disconnected| {
            matches!(Pin::new(disconnected).poll(cx), Poll::Ready(Ok(())))
        })
    }
}

impl<B> Body for EndOnDisconnect<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(frame) = inner.as_mut().poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if this.poll_disconnected(cx) {
            // Dropping the body releases what it holds (hub WebSockets, timers).
            this.inner = None;
            this.disconnected = None;
            this._listener = None;
            return Poll::Ready(None);
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|inner| inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |inner| inner.size_hint())
    }
}

impl<B> std::fmt::Debug for EndOnDisconnect<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndOnDisconnect")
            .field("ended", &self.inner.is_none())
            .finish_non_exhaustive()
    }
}
