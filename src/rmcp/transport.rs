//! The rmcp transport of one HTTP request: messages in from the request (and later the
//! client's answers), messages out to the response.

use std::future::{ready, Future};

use futures_channel::mpsc::{UnboundedReceiver, UnboundedSender};
use futures_util::StreamExt;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::RoleServer;
use rmcp::transport::Transport;

/// The response side went away: nothing the handler sends can be delivered.
#[derive(Debug, thiserror::Error)]
#[error("the HTTP response this message was for is gone")]
pub(crate) struct ResponseGone;

/// Channels on both sides: sends never wait, so rmcp's send tasks finish as soon as they run.
pub(crate) struct RequestTransport {
    pub(crate) inbound: UnboundedReceiver<ClientJsonRpcMessage>,
    pub(crate) outbound: UnboundedSender<ServerJsonRpcMessage>,
}

impl Transport<RoleServer> for RequestTransport {
    type Error = ResponseGone;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        ready(self.outbound.unbounded_send(item).map_err(|_| ResponseGone))
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
