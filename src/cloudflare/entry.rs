//! A Worker's `fetch` in one call: what every Worker in front of the layer does the same way.

use bytes::Bytes;
use http_body::Body;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty};
use tower_service::Service;
use worker::send::SendWrapper;
use worker::worker_sys::web_sys;
use worker::{Context, Env, HttpRequest};

use super::{read_request, EndOnDisconnect};
use crate::body::BoxError;
use crate::SessionLayer;

/// Where [`serve`] answers MCP.
pub const MCP_PATH: &str = "/mcp";

/// The body of a Worker's answer.
pub type WorkerBody = UnsyncBoxBody<Bytes, BoxError>;

/// Serves one request of the runtime at [`MCP_PATH`] (and the OAuth metadata paths under
/// `/.well-known/`, for an `auth::AuthLayer` in front); other paths get 404. The whole
/// `#[event(fetch)]` of a Worker:
///
/// ```ignore
/// #[worker::event(fetch)]
/// async fn fetch(request: web_sys::Request, env: Env, context: Context) -> worker::Result<Response<WorkerBody>> {
///     cloudflare::serve(request, &env, context, |layer| layer.layer(RmcpService::new(|| Ok(Counter::new())))).await
/// }
/// pub use mcp_edge_session::cloudflare::McpSessionHub; // the hub's Durable Object class
/// ```
///
/// Reads the request first, so one with a header that is not valid HTTP gets a JSON-RPC 400
/// rather than the runtime's plain-text 500; then [`serve_request`].
pub async fn serve<F, S, B>(
    request: web_sys::Request,
    env: &Env,
    context: Context,
    build: F,
) -> worker::Result<http::Response<WorkerBody>>
where
    F: FnOnce(SessionLayer) -> S,
    S: Service<HttpRequest, Response = http::Response<B>>,
    S::Error: std::fmt::Display,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let request = match read_request(request) {
        Ok(request) => request,
        Err(unreadable) => return Ok(boxed(unreadable.into_response())),
    };
    let path = request.uri().path();
    if path != MCP_PATH && !path.starts_with("/.well-known/") {
        let not_found = Empty::new().map_err(|never| match never {}).boxed_unsync();
        return Ok(http::Response::builder().status(404).body(not_found)?);
    }
    serve_request(request, env, context, build).await
}

/// Serves a request already read (a Worker that routes some paths itself calls this for its
/// MCP endpoint): builds the layer from the Worker's bindings
/// ([`SessionLayer::cloudflare`]), with the request's `wait_until` as executor (a POST answer
/// that outlives its connection is finished in the background and kept for the client's
/// resumption) and the hosts of the `ALLOWED_HOSTS` variable (comma-separated) allowed besides
/// loopback; `build` puts the MCP server (and any layers) behind it. The answer's stream ends
/// when the client disconnects, which releases the hub connection behind it.
pub async fn serve_request<F, S, B>(
    request: HttpRequest,
    env: &Env,
    context: Context,
    build: F,
) -> worker::Result<http::Response<WorkerBody>>
where
    F: FnOnce(SessionLayer) -> S,
    S: Service<HttpRequest, Response = http::Response<B>>,
    S::Error: std::fmt::Display,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    // The isolate has one thread; the executor must be `Send` for the layer's sake.
    let context = SendWrapper::new(context);
    let layer = SessionLayer::cloudflare(env)?
        .with_allowed_hosts(allowed_hosts(env))
        .with_executor(move |task| context.wait_until(task));
    let signal = request.extensions().get::<worker::AbortSignal>().cloned();
    let mut service = build(layer);
    std::future::poll_fn(|cx| service.poll_ready(cx))
        .await
        .map_err(|error| worker::Error::RustError(error.to_string()))?;
    let response = service
        .call(request)
        .await
        .map_err(|error| worker::Error::RustError(error.to_string()))?;
    Ok(response.map(|body| EndOnDisconnect::new(body.map_err(Into::into), signal).boxed_unsync()))
}

fn boxed<B>(response: http::Response<B>) -> http::Response<WorkerBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    response.map(|body| body.map_err(Into::into).boxed_unsync())
}

/// Hosts a Worker answers to: loopback, plus `ALLOWED_HOSTS` (comma-separated) when set.
pub fn allowed_hosts(env: &Env) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"].map(String::from).into();
    if let Ok(extra) = env.var("ALLOWED_HOSTS") {
        hosts.extend(
            extra
                .to_string()
                .split(',')
                .map(|host| host.trim().to_owned())
                .filter(|host| !host.is_empty()),
        );
    }
    hosts
}
