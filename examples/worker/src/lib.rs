//! The conformance suite's "everything" MCP server as a Cloudflare Worker: the same stateless
//! fixture as the native example, behind `SessionLayer` with sessions in Workers KV and
//! streams in the `McpSessionHub` Durable Object.
// The `bare` build (for size comparisons only) leaves the layered path unused.
#![cfg_attr(feature = "bare", allow(unused))]

use bytes::Bytes;
use everything_fixture::Everything;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use mcp_edge_session::cloudflare::EndOnDisconnect;
use mcp_edge_session::rmcp::RmcpService;
use mcp_edge_session::SessionLayer;
use tower::{Layer, ServiceExt};
use worker::send::SendWrapper;
use worker::worker_sys::web_sys;
use worker::{event, Context, Env, HttpRequest};

#[cfg(not(feature = "bare"))]
mod auth;
mod console;
#[cfg(not(feature = "bare"))]
mod test_routes;

/// What the Worker answers with. The layer's body goes to the runtime as one stream, so a
/// client that disconnects cancels it, which drops the hub WebSocket behind it.
type Reply = http::Response<UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>>;

fn empty() -> UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>> {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The hub Durable Object, exported for the runtime (bound as `TMCP_DURABLE_OBJECT`).
#[cfg(not(feature = "bare"))]
pub use mcp_edge_session::cloudflare::McpSessionHub;

#[event(fetch)]
async fn fetch(request: web_sys::Request, env: Env, context: Context) -> worker::Result<Reply> {
    console::init(|| env.var("LOG_LEVEL").map(|v| v.to_string()).ok());
    // Read here rather than by the runtime glue, so a request with a header that is not valid
    // HTTP gets a JSON-RPC 400 instead of a plain-text 500.
    let request = match mcp_edge_session::cloudflare::read_request(request) {
        Ok(request) => request,
        Err(unreadable) => return Ok(unreadable.into_response().map(|body| body.boxed_unsync())),
    };
    let path = request.uri().path();
    #[cfg(not(feature = "bare"))]
    let metadata =
        auth::layer(&env).is_some_and(|auth| auth.metadata_paths().iter().any(|p| p == path));
    #[cfg(feature = "bare")]
    let metadata = false;
    if path != "/mcp" && !path.starts_with("/__test/") && !metadata {
        return Ok(http::Response::builder().status(404).body(empty())?);
    }
    #[cfg(not(feature = "bare"))]
    if let Some(test) = request.uri().path().strip_prefix("/__test/") {
        return test_routes::serve(test, &request, &env).await;
    }
    #[cfg(feature = "bare")]
    return bare(request).await;
    #[cfg(not(feature = "bare"))]
    layered(request, env, context).await
}

#[cfg(not(feature = "bare"))]
async fn layered(request: HttpRequest, env: Env, context: Context) -> worker::Result<Reply> {
    // `wait_until` keeps the isolate alive for a POST response that outlives its connection
    // (SSE polling, client disconnects): the rest is produced in the background and kept in the
    // hub for the client's resumption.
    let context = SendWrapper::new(context);
    let layer = SessionLayer::cloudflare(&env)?
        .with_allowed_hosts(allowed_hosts(&env))
        .with_executor(move |task| context.wait_until(task));
    let signal = request.extensions().get::<worker::AbortSignal>().cloned();
    let mcp = layer.layer(RmcpService::new(|| Ok(Everything::new())));
    let response = match auth::layer(&env) {
        Some(auth) => auth
            .layer(mcp)
            .oneshot(request)
            .await
            .map(|response| response.map(|body| body.boxed_unsync())),
        None => mcp
            .oneshot(request)
            .await
            .map(|response| response.map(|body| body.boxed_unsync())),
    }
    .unwrap_or_else(|never| match never {});
    Ok(response.map(|body| EndOnDisconnect::new(body, signal).boxed_unsync()))
}

/// The fixture without the layer (feature `bare`): only to measure what the layer adds.
#[cfg(feature = "bare")]
async fn bare(request: HttpRequest) -> worker::Result<Reply> {
    let (parts, body) = request.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| worker::Error::RustError(e.to_string()))?
        .to_bytes();
    let request = http::Request::from_parts(parts, http_body_util::Full::new(bytes));
    let response = RmcpService::new(|| Ok(Everything::new()))
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {});
    Ok(response.map(|body| body.map_err(|never| match never {}).boxed_unsync()))
}

/// Hosts this Worker answers to: loopback, plus `ALLOWED_HOSTS` (comma-separated) when set.
#[cfg(not(feature = "bare"))]
fn allowed_hosts(env: &Env) -> Vec<String> {
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "[::1]".to_owned(),
    ];
    if let Ok(extra) = env.var("ALLOWED_HOSTS") {
        hosts.extend(
            extra
                .to_string()
                .split(',')
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty()),
        );
    }
    hosts
}
