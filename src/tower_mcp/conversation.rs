//! One HTTP request's conversation with the router: its requests run, and what the handlers
//! send while they run comes out in order — progress and log messages for the POST stream,
//! server-to-client requests from the [`LayerRequester`](super::requester::LayerRequester),
//! then each answer. List changes and resource updates go to the layer's [`Notifier`], which
//! delivers them to every session and `subscriptions/listen` stream that asked, on any
//! instance.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_channel::mpsc::UnboundedReceiver;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, Stream, StreamExt};
use tower_mcp::context::{CancellationToken, NotificationReceiver, ServerNotification};

use crate::answer::{LogFilter, Outgoing};
use crate::hub::ListKind;
use crate::notify::Notifier;
use crate::protocol::jsonrpc::notification;

/// The stream of messages for the client; it ends once every request is answered (or
/// cancelled). Dropping it before then cancels the requests still running.
pub(crate) struct Conversation {
    pub(crate) answers: FuturesUnordered<BoxFuture<'static, Option<Outgoing>>>,
    /// Answers that are ready, held back until what their handlers sent before is out.
    pub(crate) ready: VecDeque<Outgoing>,
    pub(crate) notifications: NotificationReceiver,
    pub(crate) client_requests: UnboundedReceiver<Outgoing>,
    /// Pushes to the hub, awaited before the conversation ends.
    pub(crate) pushes: FuturesUnordered<BoxFuture<'static, ()>>,
    /// Watches for a client's cancellation; they end only by cancelling.
    pub(crate) watches: FuturesUnordered<BoxFuture<'static, ()>>,
    pub(crate) log: LogFilter,
    pub(crate) notifier: Option<Notifier>,
    /// The requests' cancellation tokens, cancelled if the conversation is dropped early.
    pub(crate) running: Vec<CancellationToken>,
}

impl Conversation {
    /// Where one of the handler's notifications goes: the POST stream (returned), the hub, or
    /// nowhere.
    fn route(&mut self, sent: ServerNotification) -> Option<Outgoing> {
        let (method, params) = match sent {
            ServerNotification::Progress(params) => ("notifications/progress", to_value(params)),
            ServerNotification::LogMessage(params) => {
                if !self.log.admits_level(&params.level) {
                    return None;
                }
                ("notifications/message", to_value(params))
            }
            ServerNotification::TaskStatusChanged(params) => {
                ("notifications/tasks/status", to_value(params))
            }
            ServerNotification::ToolsListChanged => return self.push_list(ListKind::Tools),
            ServerNotification::PromptsListChanged => return self.push_list(ListKind::Prompts),
            ServerNotification::ResourcesListChanged => return self.push_list(ListKind::Resources),
            ServerNotification::ResourceUpdated { uri } => {
                if let Some(notifier) = self.notifier.clone() {
                    self.pushes.push(Box::pin(async move {
                        if let Err(error) = notifier.resource_updated(&uri).await {
                            tracing::warn!(%error, "could not announce a resource update");
                        }
                    }));
                }
                return None;
            }
            other => {
                tracing::debug!(?other, "notification the layer does not carry");
                return None;
            }
        };
        Some(Outgoing {
            json: notification(method, params).to_string(),
            answer_status: None,
        })
    }

    fn push_list(&mut self, kind: ListKind) -> Option<Outgoing> {
        let notifier = self.notifier.clone()?;
        self.pushes.push(Box::pin(async move {
            if let Err(error) = notifier.list_changed(kind).await {
                tracing::warn!(%error, "could not announce a list change");
            }
        }));
        None
    }
}

fn to_value(params: impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(params).unwrap_or_default()
}

impl Stream for Conversation {
    type Item = Outgoing;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Outgoing>> {
        let this = &mut *self;
        loop {
            // What a handler sent comes before its answer.
            if let Poll::Ready(Some(sent)) = this.notifications.poll_recv(cx) {
                match this.route(sent) {
                    Some(outgoing) => return Poll::Ready(Some(outgoing)),
                    None => continue,
                }
            }
            if let Poll::Ready(Some(request)) = this.client_requests.poll_next_unpin(cx) {
                return Poll::Ready(Some(request));
            }
            while let Poll::Ready(Some(())) = this.pushes.poll_next_unpin(cx) {}
            while let Poll::Ready(Some(())) = this.watches.poll_next_unpin(cx) {}
            if let Some(answer) = this.ready.pop_front() {
                return Poll::Ready(Some(answer));
            }
            match this.answers.poll_next_unpin(cx) {
                // A handler that finished at once has sent its notifications by now; they
                // go first (the loop takes them from the channel).
                Poll::Ready(Some(Some(answer))) => this.ready.push_back(answer),
                Poll::Ready(Some(None)) => continue,
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    // Every request is answered (and the channel was just found empty).
                    if !this.pushes.is_empty() {
                        return Poll::Pending;
                    }
                    this.running.clear();
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl Drop for Conversation {
    fn drop(&mut self) {
        for token in &self.running {
            token.cancel();
        }
    }
}
