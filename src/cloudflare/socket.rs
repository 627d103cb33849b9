//! An owned stream of the text messages of a WebSocket the Worker opened to the hub, `Send`
//! so it can live in a response body. Dropping it closes the socket, which releases the hub's
//! side (a client disconnect frees its WebSocket).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_channel::mpsc;
use futures_util::Stream;
use worker::send::SendWrapper;
use worker::wasm_bindgen::closure::Closure;
use worker::wasm_bindgen::JsCast;
use worker::web_sys;
use worker::WebSocket;

/// Listeners registered on the socket; removed (and the socket closed) on drop.
struct Listeners {
    socket: WebSocket,
    on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    on_close: Closure<dyn FnMut(web_sys::CloseEvent)>,
}

impl Drop for Listeners {
    fn drop(&mut self) {
        let raw: &web_sys::WebSocket = self.socket.as_ref();
        let _ = raw.remove_event_listener_with_callback(
            "message",
            self.on_message.as_ref().unchecked_ref(),
        );
        let _ = raw
            .remove_event_listener_with_callback("close", self.on_close.as_ref().unchecked_ref());
        let _ = raw
            .remove_event_listener_with_callback("error", self.on_close.as_ref().unchecked_ref());
        let _ = self.socket.close(Some(1000), Some("stream closed"));
    }
}

/// Messages queued for a slow reader before its stream is ended (the client resumes with
/// `Last-Event-ID` and the hub replays from its log).
const BACKLOG: usize = 256;

/// Text messages of a WebSocket, ending when it closes or its reader falls too far behind.
pub(crate) struct SocketMessages {
    receiver: mpsc::Receiver<String>,
    _listeners: SendWrapper<Listeners>,
}

impl SocketMessages {
    /// Listens on `socket` and accepts it (listeners first, so no message is missed).
    pub(crate) fn accept(socket: WebSocket) -> worker::Result<Self> {
        let (sender, receiver) = mpsc::channel::<String>(BACKLOG);
        let on_message = {
            let mut sender = sender.clone();
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                if let Some(text) = event.data().as_string() {
                    if sender.try_send(text).is_err() {
                        sender.close_channel();
                    }
                }
            })
        };
        let mut closer = sender;
        let on_close =
            Closure::<dyn FnMut(web_sys::CloseEvent)>::new(move |_event: web_sys::CloseEvent| {
                closer.close_channel();
            });
        let raw: &web_sys::WebSocket = socket.as_ref();
        raw.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref())
            .map_err(worker::Error::from)?;
        raw.add_event_listener_with_callback("close", on_close.as_ref().unchecked_ref())
            .map_err(worker::Error::from)?;
        raw.add_event_listener_with_callback("error", on_close.as_ref().unchecked_ref())
            .map_err(worker::Error::from)?;
        socket.accept()?;
        Ok(Self {
            receiver,
            _listeners: SendWrapper::new(Listeners {
                socket,
                on_message,
                on_close,
            }),
        })
    }
}

impl Stream for SocketMessages {
    type Item = String;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<String>> {
        Pin::new(&mut self.receiver).poll_next(cx)
    }
}
