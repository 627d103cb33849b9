//! The rmcp transport of one HTTP request: messages in from the request (and later the
//! client's answers), messages out to the response.

use std::future::{ready, Future};

use futures_channel::mpsc::{Sender, UnboundedReceiver};
use futures_util::{SinkExt, StreamExt};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::RoleServer;
use rmcp::transport::Transport;

/// The response side went away: nothing the handler sends can be delivered.
#[derive(Debug, thiserror::Error)]
#[error("the HTTP response this message was for is gone")]
pub(crate) struct ResponseGone;

/// How many messages for the client may wait for the response to take them: a handler that
/// sends faster than its client reads then waits, rather than growing memory.
pub(crate) const OUTBOUND_BUFFER: usize = 32;

/// Channels on both sides. Inbound (the request's messages, the client's answers) is small by
/// nature; outbound is bounded, and a send waits while it is full.
pub(crate) struct RequestTransport {
    pub(crate) inbound: UnboundedReceiver<ClientJsonRpcMessage>,
    pub(crate) outbound: Sender<ServerJsonRpcMessage>,
}

impl Transport<RoleServer> for RequestTransport {
    type Error = ResponseGone;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let mut outbound = self.outbound.clone();
        async move { outbound.send(item).await.map_err(|_| ResponseGone) }
    }

    // Ends only when the exchange holding the sender is dropped: rmcp's end-of-input path
    // waits on tokio timers, which a Worker does not have.
    fn receive(&mut self) -> impl Future<Output = Option<ClientJsonRpcMessage>> + Send {
        self.inbound.next()
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inbound.close();
        ready(Ok(()))
    }
}
