//! [`RmcpService`]: the tower service.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use http::{Request, Response, StatusCode};
use http_body::Body;
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, GetExtensions};
use rmcp::ServerHandler;
use serde_json::Value;
use tower_service::Service;

use super::exchange::{Exchange, Route, Setup};
use super::messages::{peer_info, LogFilter};
use super::RmcpBody;
use crate::answer::{read_post, refused, request_era, respond};
use crate::body::BoxError;
use crate::context::McpContext;
use crate::notify::Notifier;
use crate::protocol::headers::MCP_PROTOCOL_VERSION;
use crate::protocol::jsonrpc::code;
use crate::protocol::meta;
use crate::protocol::rejection::Rejection;
use crate::protocol::version::Era;

type Factory<H> = dyn Fn() -> Result<H, std::io::Error> + Send + Sync;

/// An rmcp [`ServerHandler`] as a stateless MCP Streamable-HTTP tower service: each request
/// runs a fresh handler from the factory for that request's message. Put
/// [`SessionLayer`](crate::SessionLayer) in front of it; see the [module docs](super).
///
/// ```
/// # use mcp_edge_session::{rmcp::RmcpService, SessionLayer};
/// # use rmcp::{model::{ServerCapabilities, ServerInfo}, ServerHandler};
/// # #[derive(Clone)] struct Counter;
/// # impl ServerHandler for Counter {
/// #     fn get_info(&self) -> ServerInfo { ServerInfo::new(ServerCapabilities::default()) }
/// # }
/// use tower::ServiceBuilder;
///
/// let mcp = ServiceBuilder::new()
///     .layer(SessionLayer::memory())
///     .service(RmcpService::new(|| Ok(Counter)));
/// # let _ = mcp;
/// ```
pub struct RmcpService<H> {
    factory: Arc<Factory<H>>,
}

impl<H> RmcpService<H> {
    /// A service that serves every request with a handler from `factory` (as rmcp's own
    /// `StreamableHttpService::new` takes it).
    pub fn new<F>(factory: F) -> Self
    where
        F: Fn() -> Result<H, std::io::Error> + Send + Sync + 'static,
    {
        Self {
            factory: Arc::new(factory),
        }
    }
}

impl<H> Clone for RmcpService<H> {
    fn clone(&self) -> Self {
        Self {
            factory: self.factory.clone(),
        }
    }
}

impl<H> fmt::Debug for RmcpService<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RmcpService").finish_non_exhaustive()
    }
}

impl<ReqBody, H> Service<Request<ReqBody>> for RmcpService<H>
where
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
    H: ServerHandler,
{
    type Response = Response<RmcpBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<RmcpBody>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let factory = self.factory.clone();
        let serving = async move { Ok(serve(&*factory, request).await) };
        // In a Worker the handler's futures are `!Send`; the isolate has one thread.
        #[cfg(target_arch = "wasm32")]
        let serving = send_wrapper::SendWrapper::new(serving);
        Box::pin(serving)
    }
}

async fn serve<ReqBody, H>(factory: &Factory<H>, request: Request<ReqBody>) -> Response<RmcpBody>
where
    ReqBody: Body,
    ReqBody::Error: Into<BoxError>,
    H: ServerHandler,
{
    let (parts, items, batch) = match read_post(request).await {
        Ok(read) => read,
        Err(rejection) => return refused(rejection),
    };
    let messages = match parse(items) {
        Ok(messages) => messages,
        Err(rejection) => return refused(rejection),
    };
    let context = parts.extensions.get::<McpContext>().cloned();
    let header_version = parts
        .headers
        .get(&MCP_PROTOCOL_VERSION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let era = request_era(&parts);
    let route = match (&context, parts.extensions.get::<Notifier>()) {
        (
            Some(McpContext {
                session_id: Some(session),
                ..
            }),
            Some(notifier),
        ) => Some(Route {
            notifier: notifier.clone(),
            session: session.clone(),
        }),
        _ => None,
    };
    let setup = Setup {
        era,
        log: LogFilter::of(context.as_ref()),
        peer: peer_info(&messages, context.as_ref(), header_version),
        route,
        notifier: parts.extensions.get::<Notifier>().cloned(),
    };
    let handler = match factory() {
        Ok(handler) => handler,
        Err(error) => {
            tracing::error!(%error, "could not create the MCP handler");
            return refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                code::INTERNAL_ERROR,
                "Internal error",
            );
        }
    };
    if era == Era::Stateless {
        if let Err(rejection) = check_param_headers(&handler, &parts.headers, &messages) {
            return refused(rejection);
        }
    }
    // rmcp hands these to the handler as `RequestContext::extensions`.
    let messages = messages
        .into_iter()
        .map(|mut message| {
            match &mut message {
                ClientJsonRpcMessage::Request(request) => {
                    request.request.extensions_mut().insert(parts.clone());
                }
                ClientJsonRpcMessage::Notification(notification) => {
                    notification
                        .notification
                        .extensions_mut()
                        .insert(parts.clone());
                }
                _ => {}
            }
            message
        })
        .collect();
    let exchange = Exchange::start(handler, messages, setup);
    let had_requests = exchange.had_requests();
    respond(exchange, had_requests, batch).await
}

/// The client requests of the specification, which are never custom.
const STANDARD_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "server/discover",
    "completion/complete",
    "logging/setLevel",
    "prompts/get",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "subscriptions/listen",
    "tools/call",
    "tools/list",
    "tasks/get",
    "tasks/update",
    "tasks/cancel",
];

/// The body's messages as rmcp's.
fn parse(items: Vec<Value>) -> Result<Vec<ClientJsonRpcMessage>, Rejection> {
    items
        .into_iter()
        .map(|item| {
            let id = item.get("id").cloned();
            let is_request = id.is_some() && item.get("method").is_some();
            let raw_id = || {
                id.as_ref()
                    .and_then(|id| serde_json::value::to_raw_value(id).ok())
            };
            let message =
                serde_json::from_value::<ClientJsonRpcMessage>(item).map_err(|error| {
                    // A known method with params of the wrong shape; anything else is no
                    // JSON-RPC message at all.
                    let (status, code, message) = match is_request {
                        true => (
                            StatusCode::OK,
                            code::INVALID_PARAMS,
                            format!("Invalid params: {error}"),
                        ),
                        false => (
                            StatusCode::BAD_REQUEST,
                            code::INVALID_REQUEST,
                            format!("Invalid Request: {error}"),
                        ),
                    };
                    Rejection::new(status, code, message).with_id(raw_id().as_deref())
                })?;
            // rmcp takes a standard method whose params do not fit for a custom one.
            if let ClientJsonRpcMessage::Request(request) = &message {
                if let ClientRequest::CustomRequest(custom) = &request.request {
                    if STANDARD_METHODS.contains(&custom.method.as_str()) {
                        let message = format!("Invalid params for {}", custom.method);
                        return Err(
                            Rejection::new(StatusCode::OK, code::INVALID_PARAMS, message)
                                .with_id(raw_id().as_deref()),
                        );
                    }
                }
            }
            Ok(message)
        })
        .collect()
}

fn refusal(status: StatusCode, code: i64, message: &str) -> Response<RmcpBody> {
    refused(Rejection::new(status, code, message.to_owned()))
}

/// SEP-2243: a stateless `tools/call` mirrors the arguments its tool's schema marks with
/// `x-mcp-header` in `Mcp-Param-*` headers, which must match. Only the handler knows the
/// schema, so this check is made here rather than in the layer.
fn check_param_headers<H: ServerHandler>(
    handler: &H,
    headers: &http::HeaderMap,
    messages: &[ClientJsonRpcMessage],
) -> Result<(), Rejection> {
    for message in messages {
        let ClientJsonRpcMessage::Request(request) = message else {
            continue;
        };
        let ClientRequest::CallToolRequest(call) = &request.request else {
            continue;
        };
        let Some(tool) = handler.get_tool(&call.params.name) else {
            continue;
        };
        let arguments = call.params.arguments.clone().map(Value::Object);
        meta::check_param_headers(headers, arguments.as_ref(), &tool.input_schema).map_err(
            |rejection| {
                let id = serde_json::value::to_raw_value(&request.id).ok();
                rejection.with_id(id.as_deref())
            },
        )?;
    }
    Ok(())
}
