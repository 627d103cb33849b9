//! Where streams meet messages: the [`StreamHub`] trait and its in-memory implementation.
//!
//! A hub owns every long-lived stream (legacy GET streams, resumed POST streams, stateless
//! `subscriptions/listen` streams), the bounded per-session event log used for `Last-Event-ID`
//! replay and offline buffering, the resource-subscription index, and the routing of client
//! responses to the server-to-client requests that wait for them.

mod event;
pub mod log;
mod memory;
pub mod routing;

pub use event::{Event, EventId, InvalidEventId, StreamKey};
pub use memory::{MemoryHub, MemoryHubConfig};

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;

use crate::context::SessionId;

/// One serialized JSON-RPC message (compact JSON: no raw newlines, ready for an SSE `data:`).
pub type Message = Arc<str>;

/// The events of a session stream: replayed ones first, then live ones.
pub type EventStream = BoxStream<'static, Event>;

/// The messages of a stateless listener.
pub type MessageStream = BoxStream<'static, Message>;

/// Who a published message is for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Audience {
    /// One legacy session (its GET stream, or its buffer while none is open).
    Session(SessionId),
    /// Every legacy session subscribed to the URI and every listener that asked for it.
    ResourceSubscribers(String),
    /// Every session with its standalone stream open and every listener that opted into this
    /// list's changes (see [`routing::list_change_reaches`]).
    ListChanged(ListKind),
}

/// The lists whose changes clients can follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// `notifications/tools/list_changed`.
    Tools,
    /// `notifications/prompts/list_changed`.
    Prompts,
    /// `notifications/resources/list_changed`.
    Resources,
}

impl ListKind {
    /// The notification method announcing a change of this list.
    pub fn notification_method(self) -> &'static str {
        match self {
            Self::Tools => "notifications/tools/list_changed",
            Self::Prompts => "notifications/prompts/list_changed",
            Self::Resources => "notifications/resources/list_changed",
        }
    }
}

/// What a stateless `subscriptions/listen` stream opted into.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenFilter {
    /// `toolsListChanged`.
    pub tools_list_changed: bool,
    /// `promptsListChanged`.
    pub prompts_list_changed: bool,
    /// `resourcesListChanged`.
    pub resources_list_changed: bool,
    /// `resourceSubscriptions`: URIs whose updates the listener wants.
    pub resource_uris: BTreeSet<String>,
}

impl ListenFilter {
    /// Whether a message for `audience` passes this filter.
    pub fn admits(&self, audience: &Audience) -> bool {
        match audience {
            Audience::Session(_) => false,
            Audience::ResourceSubscribers(uri) => self.resource_uris.contains(uri),
            Audience::ListChanged(ListKind::Tools) => self.tools_list_changed,
            Audience::ListChanged(ListKind::Prompts) => self.prompts_list_changed,
            Audience::ListChanged(ListKind::Resources) => self.resources_list_changed,
        }
    }
}

/// An opened session stream.
pub struct SessionStream {
    /// The id for the priming event: resuming after it loses nothing.
    pub cursor: EventId,
    /// Replayed events, then live ones; ends when the session is closed.
    pub events: EventStream,
}

impl fmt::Debug for SessionStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionStream")
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

/// A client's response to a server-to-client request, once it arrives.
pub struct PendingResponse(BoxFuture<'static, Result<Message, HubError>>);

impl PendingResponse {
    /// Wraps a future resolving to the client's JSON-RPC response message.
    pub fn new(future: impl Future<Output = Result<Message, HubError>> + Send + 'static) -> Self {
        Self(Box::pin(future))
    }

    /// The response a process-local channel will carry; its sender dropped unanswered means
    /// the session closed.
    pub fn from_channel(receiver: futures_channel::oneshot::Receiver<Message>) -> Self {
        Self::new(async move { receiver.await.map_err(|_| HubError::Closed) })
    }
}

impl Future for PendingResponse {
    type Output = Result<Message, HubError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for PendingResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PendingResponse")
    }
}

/// A hub backend failed; the layer answers 503 for the stream, plain POSTs are unaffected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The backend could not be reached or refused the operation.
    #[error("stream hub unavailable: {message}")]
    Unavailable {
        /// What the backend said.
        message: String,
        /// The backend's own error, when it has one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The session was closed while a request waited for the client's response.
    #[error("the session closed before the client answered")]
    Closed,
}

impl HubError {
    /// An unavailable backend, described by `message`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable {
            message: message.into(),
            source: None,
        }
    }
}

/// The stream backend. Dyn-compatible (`Arc<dyn StreamHub>`), `Send` futures on every target.
#[async_trait]
pub trait StreamHub: Send + Sync + 'static {
    /// Opens a GET stream of a legacy session. With `after`, first replays the events of that
    /// event's stream that came after it; without, first delivers what was buffered while no
    /// stream was open (the rules: [`log::replay`]). The stream replaces the one following the
    /// same stream, which ends; every message goes to one stream ([`routing`]).
    async fn open_session_stream(
        &self,
        session: &SessionId,
        after: Option<&EventId>,
    ) -> Result<SessionStream, HubError>;

    /// Opens a stateless listener.
    async fn listen(&self, filter: ListenFilter) -> Result<MessageStream, HubError>;

    /// Publishes a message. Session messages get the next id of the session's standalone
    /// stream and are kept for replay.
    async fn publish(&self, audience: &Audience, message: Message) -> Result<(), HubError>;

    /// Keeps an event of a POST response stream that did not reach its client, for a client
    /// that resumes that stream with GET + `Last-Event-ID` (delivered at once if one has).
    async fn record(&self, session: &SessionId, event: Event) -> Result<(), HubError>;

    /// Subscribes a session to a resource URI until `until_ms`. The hub is the one owner of
    /// subscriptions: they hold until unsubscribed, until the session closes, or until they
    /// lapse (a session abandoned without DELETE leaves nothing behind; the layer extends them
    /// with the session). `false`, with nothing changed, when the session already has `limit`
    /// other subscriptions.
    async fn subscribe(
        &self,
        session: &SessionId,
        uri: &str,
        until_ms: u64,
        limit: usize,
    ) -> Result<bool, HubError>;

    /// Ends a session's subscription to a resource URI (none is not an error).
    async fn unsubscribe(&self, session: &SessionId, uri: &str) -> Result<(), HubError>;

    /// Makes a session's subscriptions, if it has any, hold until `until_ms`.
    async fn extend_subscriptions(
        &self,
        session: &SessionId,
        until_ms: u64,
    ) -> Result<(), HubError>;

    /// Ends a session's streams and forgets its log, subscriptions and pending requests.
    async fn close_session(&self, session: &SessionId) -> Result<(), HubError>;

    /// Registers interest in the client's response to the server-to-client request
    /// `request_id` (the id's compact JSON text). Register before sending the request.
    async fn expect_response(
        &self,
        session: &SessionId,
        request_id: &str,
    ) -> Result<PendingResponse, HubError>;

    /// Routes a client's response to whoever waits for it; `false` when nobody does.
    async fn deliver_response(
        &self,
        session: &SessionId,
        request_id: &str,
        message: Message,
    ) -> Result<bool, HubError>;
}
