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
/// ```ignore
/// let signal = request.extensions().get::<worker::AbortSignal>().cloned();
/// let response = service.oneshot(request).await?;
/// Ok(response.map(|body| EndOnDisconnect::new(body, signal)))
/// ```
pub struct EndOnDisconnect<B> {
    inner: Option<Pin<Box<B>>>,
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
        let mut this = Self {
            inner: Some(Box::pin(body)),
            disconnected: None,
            _listener: None,
        };
        let Some(signal) = signal else { return this };
        if signal.aborted() {
            this.inner = None;
            return this;
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
            this.disconnected = Some(receiver);
            this._listener = Some(SendWrapper::new(Listener { signal, on_abort }));
        }
        this
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
        if let Some(disconnected) = self.disconnected.as_mut() {
            if let Poll::Ready(Ok(())) = Pin::new(disconnected).poll(cx) {
                // Dropping the body releases what it holds (hub WebSockets, timers).
                self.inner = None;
                self.disconnected = None;
            }
        }
        match self.inner.as_mut() {
            Some(inner) => inner.as_mut().poll_frame(cx),
            None => Poll::Ready(None),
        }
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
