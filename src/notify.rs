//! [`Notifier`]: push from anywhere (a tool handler, a scheduled job) to clients, whichever
//! isolate or process holds their streams.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde_json::Value;

use crate::context::SessionId;
use crate::hub::{Audience, HubError, ListKind, Message, PendingResponse, StreamHub};
use crate::protocol::jsonrpc::notification;

/// A cheap handle (`Clone + Send + Sync`) that publishes through the layer's [`StreamHub`].
///
/// The layer puts one into every request's extensions; [`SessionLayer::notifier`] gives one
/// for code that runs outside requests.
///
/// [`SessionLayer::notifier`]: crate::SessionLayer::notifier
#[derive(Clone)]
pub struct Notifier {
    hub: Arc<dyn StreamHub>,
}

/// A server-to-client request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientRequestError {
    /// The hub could not send the request or route the answer.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// The client answered with a JSON-RPC error.
    #[error("client answered with error {code}: {message}")]
    Rejected {
        /// The JSON-RPC error code.
        code: i64,
        /// The error message.
        message: String,
    },
    /// The client's answer was not a JSON-RPC response.
    #[error("client answer is not a JSON-RPC response")]
    Malformed,
}

impl Notifier {
    /// A notifier publishing through `hub`.
    pub fn new(hub: Arc<dyn StreamHub>) -> Self {
        Self { hub }
    }

    /// Sends a notification to one legacy session: on its GET stream, or buffered for replay
    /// while none is open.
    pub async fn notify_session(
        &self,
        session: &SessionId,
        method: &str,
        params: Value,
    ) -> Result<(), HubError> {
        self.publish(
            &Audience::Session(session.clone()),
            &notification(method, params),
        )
        .await
    }

    /// Sends `notifications/resources/updated` to every session subscribed to `uri` and to
    /// every stateless listener that asked for it.
    pub async fn resource_updated(&self, uri: &str) -> Result<(), HubError> {
        let message = notification(
            "notifications/resources/updated",
            serde_json::json!({ "uri": uri }),
        );
        self.publish(&Audience::ResourceSubscribers(uri.to_owned()), &message)
            .await
    }

    /// Announces that a list changed, to every session and to the listeners that opted in.
    pub async fn list_changed(&self, kind: ListKind) -> Result<(), HubError> {
        let message = notification(kind.notification_method(), serde_json::json!({}));
        self.publish(&Audience::ListChanged(kind), &message).await
    }

    /// Publishes any JSON-RPC message to an audience.
    pub async fn publish(&self, audience: &Audience, message: &Value) -> Result<(), HubError> {
        self.hub
            .publish(audience, Message::from(message.to_string()))
            .await
    }

    /// Sends a server-to-client request (`sampling/createMessage`, `elicitation/create`,
    /// `roots/list`, …) on the session's GET stream and waits for the client's answer,
    /// which the client POSTs back to any instance of the server.
    ///
    /// The wait has no deadline of its own (a user may take minutes to answer an elicitation);
    /// wrap it in the timeout your runtime offers. It fails with [`HubError::Closed`] when the
    /// session is deleted.
    pub async fn request(
        &self,
        session: &SessionId,
        method: &str,
        params: Value,
    ) -> Result<Value, ClientRequestError> {
        let outgoing = self.prepare_request(session, method, params).await?;
        self.publish(&Audience::Session(session.clone()), &outgoing.message)
            .await?;
        outgoing.response.await
    }

    /// Prepares a server-to-client request without sending it: registers for the answer and
    /// returns the message, for a handler that writes it into its own POST response stream
    /// (the stream the request relates to, as the specification prefers).
    pub async fn prepare_request(
        &self,
        session: &SessionId,
        method: &str,
        params: Value,
    ) -> Result<OutgoingRequest, HubError> {
        let id = format!("srv-{}", uuid::Uuid::new_v4().simple());
        let pending = self
            .hub
            .expect_response(session, &Value::from(id.as_str()).to_string())
            .await?;
        let message = serde_json::json!({
            "jsonrpc": "2.0", "id": id, "method": method, "params": params,
        });
        Ok(OutgoingRequest {
            message,
            response: ClientResponse { pending },
        })
    }

    /// Resolves when the client cancels its request `request_id` of `session` with
    /// `notifications/cancelled`, which it may POST to any instance: the layer routes that
    /// notification through the hub. Registers with the hub before returning, so no
    /// cancellation sent after this call is missed.
    ///
    /// Each registration costs a hub connection for as long as it is held: take one only for
    /// work that is long enough to be worth cancelling.
    pub async fn cancellation(
        &self,
        session: &SessionId,
        request_id: &Value,
    ) -> Result<Cancellation, HubError> {
        let pending = self
            .hub
            .expect_response(session, &cancellation_key(&request_id.to_string()))
            .await?;
        Ok(Cancellation { pending })
    }
}

/// The hub key under which `notifications/cancelled` for the request whose id has the compact
/// JSON text `request_id` travels. Response keys are JSON texts, so the two never collide.
pub(crate) fn cancellation_key(request_id: &str) -> String {
    format!("cancel:{request_id}")
}

/// A client's cancellation of one of its requests, once it arrives; see
/// [`Notifier::cancellation`].
#[derive(Debug)]
pub struct Cancellation {
    pending: PendingResponse,
}

impl Future for Cancellation {
    /// The client's `notifications/cancelled` message, or why it can no longer come (the
    /// session closed, the hub went away).
    type Output = Result<Value, HubError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.pending)
            .poll(cx)
            .map(|message| Ok(serde_json::from_str(&message?).unwrap_or(Value::Null)))
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

/// A server-to-client request ready to send, and the client's answer to await.
#[derive(Debug)]
#[non_exhaustive]
pub struct OutgoingRequest {
    /// The JSON-RPC request to deliver to the client.
    pub message: Value,
    /// Resolves to the `result` of the client's answer.
    pub response: ClientResponse,
}

/// The client's answer to a server-to-client request: its `result`, or why there is none.
#[derive(Debug)]
pub struct ClientResponse {
    pending: PendingResponse,
}

impl Future for ClientResponse {
    type Output = Result<Value, ClientRequestError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.pending).poll(cx).map(|answer| {
            let message: Value =
                serde_json::from_str(&answer?).map_err(|_| ClientRequestError::Malformed)?;
            if let Some(result) = message.get("result") {
                return Ok(result.clone());
            }
            let error = message.get("error").ok_or(ClientRequestError::Malformed)?;
            Err(ClientRequestError::Rejected {
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            })
        })
    }
}
