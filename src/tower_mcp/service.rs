//! [`TowerMcpService`]: the tower service.

use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_channel::mpsc;
use futures_timer::Delay;
use futures_util::future::{select, BoxFuture, Either};
use futures_util::stream::FuturesUnordered;
use http::{Request, Response};
use http_body::Body;
use serde_json::Value;
use tower_mcp::context::{notification_channel, CancellationToken};
use tower_mcp::inspection::McpProtocolRevision;
use tower_mcp::protocol::{
    JsonRpcNotification, JsonRpcRequest, JsonRpcResponse, McpNotification, RequestId,
};
use tower_mcp::stateless::StatelessRequestMeta;
use tower_mcp::{Extensions, JsonRpcError, JsonRpcService, McpRouter};
use tower_service::Service;

use super::conversation::Conversation;
use super::requester::LayerRequester;
use super::schemas::ToolSchemas;
use crate::answer::{
    answer_status, read_post, refused, request_era, respond, AnswerBody, LogFilter, Outgoing,
};
use crate::body::BoxError;
use crate::context::McpContext;
use crate::notify::Notifier;
use crate::post_stream::StreamControl;
use crate::protocol::jsonrpc::code;
use crate::protocol::meta;
use crate::protocol::rejection::Rejection;
use crate::protocol::version::Era;

/// How many notifications a request's handlers may have in flight before further ones are
/// dropped (tower-mcp's handlers send without waiting).
const NOTIFICATION_BUFFER: usize = 64;

/// How long a legacy request runs before it watches for a cancellation from another
/// instance: quicker ones never cost a hub registration.
const CANCELLATION_PATIENCE: Duration = Duration::from_secs(1);

/// A tower-mcp [`McpRouter`] as a stateless MCP Streamable-HTTP tower service: each request
/// runs on a fresh session of the router. Put [`SessionLayer`](crate::SessionLayer) in
/// front of it; see the [module docs](super).
///
/// ```
/// use mcp_edge_session::{tower_mcp::TowerMcpService, SessionLayer};
/// use tower::ServiceBuilder;
/// use tower_mcp::McpRouter;
///
/// let router = McpRouter::new().server_info("my-server", "1.0.0");
/// let mcp = ServiceBuilder::new()
///     .layer(SessionLayer::memory())
///     .service(TowerMcpService::new(router));
/// # let _ = mcp;
/// ```
#[derive(Clone)]
pub struct TowerMcpService {
    router: McpRouter,
    schemas: Arc<OnceLock<ToolSchemas>>,
}

impl TowerMcpService {
    /// A service that serves every request with `router` (its tools, resources, prompts and
    /// state; the per-session parts are fresh for each request).
    pub fn new(router: McpRouter) -> Self {
        Self {
            router,
            schemas: Arc::new(OnceLock::new()),
        }
    }
}

impl fmt::Debug for TowerMcpService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TowerMcpService").finish_non_exhaustive()
    }
}

impl<ReqBody> Service<Request<ReqBody>> for TowerMcpService
where
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
{
    type Response = Response<AnswerBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<AnswerBody>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let service = self.clone();
        Box::pin(async move { Ok(service.serve(request).await) })
    }
}

/// What every message of one HTTP request runs with.
struct Setting {
    era: Era,
    context: Option<McpContext>,
    notifier: Option<Notifier>,
    control: Option<StreamControl>,
}

impl TowerMcpService {
    async fn serve<ReqBody>(&self, request: Request<ReqBody>) -> Response<AnswerBody>
    where
        ReqBody: Body,
        ReqBody::Error: Into<BoxError>,
    {
        let (parts, items, batch) = match read_post(request).await {
            Ok(read) => read,
            Err(rejection) => return refused(rejection),
        };
        let setting = Setting {
            era: request_era(&parts),
            context: parts.extensions.get::<McpContext>().cloned(),
            notifier: parts.extensions.get::<Notifier>().cloned(),
            control: parts.extensions.get::<StreamControl>().cloned(),
        };
        if setting.era == Era::Stateless {
            if let Err(rejection) = self.check_param_headers(&parts.headers, &items).await {
                return refused(rejection);
            }
        }
        let initializing = items.iter().any(|item| method(item) == Some("initialize"));
        let messages = match read(items) {
            Ok(messages) => messages,
            Err(rejection) => return refused(rejection),
        };

        let (notifications_tx, notifications) = notification_channel(NOTIFICATION_BUFFER);
        let (client_requests_tx, client_requests) = mpsc::unbounded();
        let mut router = self
            .router
            .with_fresh_session()
            .with_notification_sender(notifications_tx);
        if !initializing {
            router.session().mark_preinitialized();
        }
        // Server-to-client requests exist in the legacy era only (2026-07-28 asks with
        // input-required results instead), and only towards a client that can answer one:
        // without a requester `ctx.can_sample()` and `ctx.can_elicit()` say no.
        if let (Era::Legacy, Some(context), Some(notifier)) =
            (setting.era, &setting.context, &setting.notifier)
        {
            let answers = ["sampling", "elicitation", "roots"]
                .iter()
                .any(|capability| context.client_supports(capability));
            if let (true, Some(session)) = (answers, context.session_id.clone()) {
                router = router.with_client_requester(Arc::new(LayerRequester {
                    notifier: notifier.clone(),
                    session,
                    context: context.clone(),
                    stream: client_requests_tx,
                }));
            }
        }

        let mut conversation = Conversation {
            answers: FuturesUnordered::new(),
            ready: Default::default(),
            notifications,
            client_requests,
            pushes: FuturesUnordered::new(),
            watches: FuturesUnordered::new(),
            log: LogFilter::of(setting.context.as_ref()),
            notifier: setting.notifier.clone(),
            running: Vec::new(),
        };
        for message in messages {
            start(&router, &setting, message, &mut conversation);
        }
        let had_requests = !conversation.answers.is_empty();
        respond(conversation, had_requests, batch).await
    }

    /// SEP-2243: a stateless `tools/call` mirrors the arguments its tool's schema marks with
    /// `x-mcp-header` in `Mcp-Param-*` headers, which must match.
    async fn check_param_headers(
        &self,
        headers: &http::HeaderMap,
        items: &[Value],
    ) -> Result<(), Rejection> {
        for item in items {
            if method(item) != Some("tools/call") {
                continue;
            }
            let params = item.get("params");
            let Some(name) = params.and_then(|p| p.get("name")).and_then(Value::as_str) else {
                continue;
            };
            let schemas = match self.schemas.get() {
                Some(schemas) => schemas,
                None => {
                    let listed = ToolSchemas::list(&self.router).await;
                    self.schemas.get_or_init(|| listed)
                }
            };
            let Some(schema) = schemas.get(name) else {
                continue;
            };
            let arguments = params.and_then(|p| p.get("arguments"));
            meta::check_param_headers(headers, arguments, schema).map_err(|rejection| {
                let id = item
                    .get("id")
                    .and_then(|id| serde_json::value::to_raw_value(id).ok());
                rejection.with_id(id.as_deref())
            })?;
        }
        Ok(())
    }
}

fn method(item: &Value) -> Option<&str> {
    item.get("method").and_then(Value::as_str)
}

/// One message of the body, read as tower-mcp's.
enum Incoming {
    Request(JsonRpcRequest),
    Notification(JsonRpcNotification),
    /// A response, to a request of the layer's: not the router's business.
    Response,
}

/// Reads every message before any runs, so a bad one refuses the body and nothing happened.
fn read(items: Vec<Value>) -> Result<Vec<Incoming>, Rejection> {
    items
        .into_iter()
        .map(|item| {
            let raw_id = item
                .get("id")
                .and_then(|id| serde_json::value::to_raw_value(id).ok());
            let refuse = |error: serde_json::Error| {
                Rejection::new(
                    http::StatusCode::BAD_REQUEST,
                    code::INVALID_REQUEST,
                    format!("Invalid Request: {error}"),
                )
                .with_id(raw_id.as_deref())
            };
            match (item.get("id").is_some(), item.get("method").is_some()) {
                (true, true) => serde_json::from_value(item)
                    .map(Incoming::Request)
                    .map_err(refuse),
                (false, true) => serde_json::from_value(item)
                    .map(Incoming::Notification)
                    .map_err(refuse),
                _ => Ok(Incoming::Response),
            }
        })
        .collect()
}

/// Starts one message: a request joins the conversation's answers, a notification is handed
/// to the router.
fn start(
    router: &McpRouter,
    setting: &Setting,
    message: Incoming,
    conversation: &mut Conversation,
) {
    let request = match message {
        Incoming::Request(request) => request,
        Incoming::Notification(notification) => {
            match McpNotification::from_jsonrpc(&notification) {
                Ok(notification) => router.handle_notification(notification),
                Err(error) => tracing::debug!(%error, "notification the router does not know"),
            }
            return;
        }
        Incoming::Response => return,
    };
    let token = CancellationToken::new();
    let mut extensions = Extensions::new();
    extensions.insert(token.clone());
    if let Some(context) = &setting.context {
        if let Ok(revision) = context.protocol_version.parse::<McpProtocolRevision>() {
            extensions.insert(revision);
        }
        extensions.insert(context.clone());
    }
    if let Some(meta) = request
        .params
        .as_ref()
        .and_then(StatelessRequestMeta::from_params)
    {
        extensions.insert(meta);
    }
    if let Some(notifier) = &setting.notifier {
        extensions.insert(notifier.clone());
    }
    if let Some(control) = &setting.control {
        extensions.insert(control.clone());
    }
    watch_cancellation(setting, &request.id, &token, conversation);

    let id = request.id.clone();
    let era = setting.era;
    let mut service = JsonRpcService::new(router.clone()).with_extensions(extensions);
    let cancelled = token.clone();
    conversation.running.push(token);
    conversation.answers.push(Box::pin(async move {
        let call = Box::pin(async move { service.call_single(request).await });
        let response = match select(call, Box::pin(cancelled.cancelled())).await {
            Either::Left((response, _)) => response,
            // A cancelled request is not answered.
            Either::Right(((), _)) => return None,
        };
        let response = response.unwrap_or_else(|error| {
            JsonRpcResponse::error(Some(id), JsonRpcError::internal_error(error.to_string()))
        });
        let error_code = match &response {
            JsonRpcResponse::Error(error) => Some(i64::from(error.error.code)),
            _ => None,
        };
        Some(Outgoing {
            json: serde_json::to_string(&response).unwrap_or_default(),
            answer_status: Some(answer_status(error_code, era)),
        })
    }));
}

/// A legacy client cancels with `notifications/cancelled`, which it may POST to any instance;
/// the layer routes it through the hub.
fn watch_cancellation(
    setting: &Setting,
    id: &RequestId,
    token: &CancellationToken,
    conversation: &mut Conversation,
) {
    let (Era::Legacy, Some(notifier), Some(session)) = (
        setting.era,
        setting.notifier.clone(),
        setting.context.as_ref().and_then(|c| c.session_id.clone()),
    ) else {
        return;
    };
    let Ok(id) = serde_json::to_value(id) else {
        return;
    };
    let token = token.clone();
    conversation.watches.push(Box::pin(async move {
        Delay::new(CANCELLATION_PATIENCE).await;
        if let Ok(cancellation) = notifier.cancellation(&session, &id).await {
            if cancellation.await.is_ok() {
                token.cancel();
            }
        }
    }));
}
