//! One request's conversation with the handler: its messages go in, what the handler sends
//! comes out, and the server-to-client requests and cancellations that need the hub are
//! carried through the layer's [`Notifier`].

use std::collections::HashSet;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_channel::mpsc::{self, Receiver, UnboundedReceiver, UnboundedSender};
use futures_timer::Delay;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, Stream, StreamExt};
use futures_util::FutureExt;
use rmcp::model::{
    ClientJsonRpcMessage, InitializeRequestParams, RequestId, ServerJsonRpcMessage,
    ServerNotification,
};
use rmcp::ServerHandler;
use serde_json::Value;

use super::handler::Served;
use super::messages::{
    answered_request, client_answer, refused, status_of, AdmitsMessage, LogFilter,
};
use super::runtime::Runtime;
use super::transport::{RequestTransport, OUTBOUND_BUFFER};
use crate::answer::Outgoing;
use crate::context::SessionId;
use crate::hub::{HubError, ListKind};
use crate::notify::{ClientRequestError, Notifier, OutgoingRequest};
use crate::protocol::version::Era;

/// A legacy session, through which the handler's requests reach the client and the client's
/// cancellations reach the handler.
pub(crate) struct Route {
    pub(crate) notifier: Notifier,
    pub(crate) session: SessionId,
}

/// What the exchange needs besides the handler and the messages.
pub(crate) struct Setup {
    pub(crate) era: Era,
    pub(crate) log: LogFilter,
    pub(crate) route: Option<Route>,
    pub(crate) peer: InitializeRequestParams,
    /// Where the handler's list changes go (every session and `subscriptions/listen` stream
    /// that asked, on any instance), when a layer is in front.
    pub(crate) notifier: Option<Notifier>,
}

/// How long a legacy request runs before it watches for a cancellation from another
/// instance: quicker ones never cost a hub registration.
const CANCELLATION_PATIENCE: Duration = Duration::from_secs(1);

/// Where a request stands with [`CANCELLATION_PATIENCE`].
enum Patience {
    NotStarted,
    Waiting(Delay),
    Over,
}

type Sending = BoxFuture<'static, (RequestId, Result<OutgoingRequest, HubError>)>;
type Answer = BoxFuture<'static, (RequestId, Result<Value, ClientRequestError>)>;

/// The stream of messages for the client; it ends once every request is answered (or
/// cancelled) and every notification handled. Dropping it stops the handler.
pub(crate) struct Exchange {
    runtime: Runtime,
    inbound: UnboundedSender<ClientJsonRpcMessage>,
    outbound: Receiver<ServerJsonRpcMessage>,
    handled: UnboundedReceiver<()>,
    requests_due: HashSet<RequestId>,
    notifications_due: usize,
    setup: Setup,
    sending: FuturesUnordered<Sending>,
    answers: FuturesUnordered<Answer>,
    /// List changes being published through the hub; the exchange ends after them.
    pushes: FuturesUnordered<BoxFuture<'static, ()>>,
    had_requests: bool,
    patience: Patience,
    cancellation: Option<BoxFuture<'static, RequestId>>,
}

impl Exchange {
    pub(crate) fn start<H: ServerHandler>(
        handler: H,
        messages: Vec<ClientJsonRpcMessage>,
        setup: Setup,
    ) -> Self {
        let (inbound, inbound_rx) = mpsc::unbounded();
        let (outbound_tx, outbound) = mpsc::channel(OUTBOUND_BUFFER);
        let (handled_tx, handled) = mpsc::unbounded();
        let mut requests_due = HashSet::new();
        let mut notifications_due = 0;
        for message in messages {
            match &message {
                ClientJsonRpcMessage::Request(request) => {
                    requests_due.insert(request.id.clone());
                }
                ClientJsonRpcMessage::Notification(_) => notifications_due += 1,
                _ => continue,
            }
            let _ = inbound.unbounded_send(message);
        }
        let runtime = Runtime::start(
            Served {
                handler,
                handled: handled_tx,
            },
            RequestTransport {
                inbound: inbound_rx,
                outbound: outbound_tx,
            },
            setup.peer.clone(),
        );
        let had_requests = !requests_due.is_empty();
        let patience = match setup.route {
            Some(_) => Patience::NotStarted,
            None => Patience::Over,
        };
        Self {
            runtime,
            inbound,
            outbound,
            handled,
            requests_due,
            notifications_due,
            setup,
            sending: FuturesUnordered::new(),
            answers: FuturesUnordered::new(),
            pushes: FuturesUnordered::new(),
            had_requests,
            patience,
            cancellation: None,
        }
    }

    /// From now on, a `notifications/cancelled` for the (one) request, POSTed to any
    /// instance, cancels it. Costs a hub registration, so it is taken only for a request that
    /// runs for a while.
    fn watch_cancellation(&mut self) {
        self.patience = Patience::Over;
        let (Some(route), None) = (&self.setup.route, &self.cancellation) else {
            return;
        };
        let mut due = self.requests_due.iter();
        let (Some(id), None) = (due.next(), due.next()) else {
            return;
        };
        let id = id.clone();
        let notifier = route.notifier.clone();
        let session = route.session.clone();
        self.cancellation = Some(
            async move {
                let key = serde_json::to_value(&id).unwrap_or(Value::Null);
                if let Ok(cancellation) = notifier.cancellation(&session, &key).await {
                    if cancellation.await.is_ok() {
                        return id;
                    }
                }
                // Without the hub the request simply runs to its end.
                std::future::pending().await
            }
            .boxed(),
        );
    }

    /// Whether the request's body held requests (not only notifications).
    pub(crate) fn had_requests(&self) -> bool {
        self.had_requests
    }

    fn done(&self) -> bool {
        self.requests_due.is_empty() && self.notifications_due == 0 && self.pushes.is_empty()
    }

    /// Decides what becomes of a message the handler sent.
    fn route(&mut self, message: ServerJsonRpcMessage) -> Option<Outgoing> {
        if let ServerJsonRpcMessage::Request(request) = &message {
            let id = request.id.clone();
            match &self.setup.route {
                Some(route) => {
                    let value = serde_json::to_value(&message).unwrap_or(Value::Null);
                    let method = value["method"].as_str().unwrap_or_default().to_owned();
                    let params = value.get("params").cloned().unwrap_or(Value::Null);
                    let notifier = route.notifier.clone();
                    let session = route.session.clone();
                    self.sending.push(
                        async move {
                            let prepared = notifier.prepare_request(&session, &method, params);
                            (id, prepared.await)
                        }
                        .boxed(),
                    );
                }
                None => self.feed(refused(
                    id,
                    "server-to-client requests need a legacy session: SessionLayer in front and \
                     a protocol version before 2026-07-28",
                )),
            }
            return None;
        }
        if !self.setup.log.admits(&message) {
            return None;
        }
        if let (Some(kind), Some(notifier)) = (list_changed(&message), &self.setup.notifier) {
            // `peer.notify_tool_list_changed()` and its siblings: a list change concerns every
            // client, not this request's stream.
            let notifier = notifier.clone();
            self.pushes.push(
                async move {
                    if let Err(error) = notifier.list_changed(kind).await {
                        tracing::warn!(%error, "could not announce a list change");
                    }
                }
                .boxed(),
            );
            return None;
        }
        let answer_status = answered_request(&message).cloned().map(|id| {
            self.requests_due.remove(&id);
            status_of(&message, self.setup.era)
        });
        Some(Outgoing {
            json: serde_json::to_string(&message).unwrap_or_default(),
            answer_status,
        })
    }

    fn feed(&self, message: ClientJsonRpcMessage) {
        // Fails only once the serve loop is gone, and then nothing waits for it.
        let _ = self.inbound.unbounded_send(message);
    }
}

impl Stream for Exchange {
    type Item = Outgoing;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Outgoing>> {
        let this = &mut *self;
        loop {
            if this.done() {
                return Poll::Ready(None);
            }
            this.runtime.drive(cx);
            let mut progressed = false;
            while let Poll::Ready(Some(())) = this.handled.poll_next_unpin(cx) {
                this.notifications_due = this.notifications_due.saturating_sub(1);
                progressed = true;
            }
            while let Poll::Ready(Some(())) = this.pushes.poll_next_unpin(cx) {
                progressed = true;
            }
            while let Poll::Ready(Some((id, answer))) = this.answers.poll_next_unpin(cx) {
                this.feed(client_answer(id, answer));
                progressed = true;
            }
            if let Patience::Waiting(patience) = &mut this.patience {
                if patience.poll_unpin(cx).is_ready() {
                    this.watch_cancellation();
                    progressed = true;
                }
            }
            if let Some(cancellation) = &mut this.cancellation {
                if let Poll::Ready(id) = cancellation.poll_unpin(cx) {
                    this.cancellation = None;
                    if let Some(message) = cancelled(&id) {
                        this.feed(message);
                    }
                    // A cancelled request is not answered.
                    this.requests_due.remove(&id);
                    continue;
                }
            }
            if let Poll::Ready(Some((id, prepared))) = this.sending.poll_next_unpin(cx) {
                match prepared {
                    Ok(OutgoingRequest { message, response }) => {
                        this.answers
                            .push(async move { (id, response.await) }.boxed());
                        return Poll::Ready(Some(Outgoing {
                            json: message.to_string(),
                            answer_status: None,
                        }));
                    }
                    Err(error) => {
                        this.feed(refused(id, &format!("could not reach the client: {error}")));
                        progressed = true;
                    }
                }
            }
            match this.outbound.poll_next_unpin(cx) {
                Poll::Ready(Some(message)) => match this.route(message) {
                    Some(outgoing) => return Poll::Ready(Some(outgoing)),
                    None => progressed = true,
                },
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {}
            }
            if !progressed {
                // The timer starts only once the request has to wait: one that is answered in
                // its first poll (most are, in a Worker) never sets one.
                if let Patience::NotStarted = this.patience {
                    this.patience = Patience::Waiting(Delay::new(CANCELLATION_PATIENCE));
                    continue;
                }
                return Poll::Pending;
            }
        }
    }
}

/// Which list a list-changed notification announces.
fn list_changed(message: &ServerJsonRpcMessage) -> Option<ListKind> {
    let ServerJsonRpcMessage::Notification(notification) = message else {
        return None;
    };
    match notification.notification {
        ServerNotification::ToolListChangedNotification(_) => Some(ListKind::Tools),
        ServerNotification::PromptListChangedNotification(_) => Some(ListKind::Prompts),
        ServerNotification::ResourceListChangedNotification(_) => Some(ListKind::Resources),
        _ => None,
    }
}

fn cancelled(id: &RequestId) -> Option<ClientJsonRpcMessage> {
    let message = serde_json::json!({
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": { "requestId": id, "reason": "cancelled by the client" },
    });
    serde_json::from_value(message).ok()
}
