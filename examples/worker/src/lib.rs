//! The conformance suite's "everything" MCP server as a Cloudflare Worker: the same stateless
//! fixture as the native example, behind `SessionLayer` with sessions in Workers KV and
//! streams in the `McpSessionHub` Durable Object.
// The `bare` build (for size comparisons only) leaves the layered path unused.
#![cfg_attr(feature = "bare", allow(unused))]

use bytes::Bytes;
use everything_fixture::Everything;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
#[cfg(not(feature = "bare"))]
use mcp_edge_session::cloudflare::serve_request;
use mcp_edge_session::rmcp::RmcpService;
use mcp_edge_session::SessionLayer;
use tower::Layer;
#[cfg(feature = "bare")]
use tower::ServiceExt;
use worker::worker_sys::web_sys;
use worker::{event, Context, Env, HttpRequest};

#[cfg(not(feature = "bare"))]
mod auth;
mod console;
#[cfg(not(feature = "bare"))]
mod test_routes;

/// What the Worker answers with. The layer's body goes to the runtime as one stream, so a
/// client that disconnects cancels it, which drops the hub WebSocket behind it.
type Reply = http::Response<mcp_edge_session::cloudflare::WorkerBody>;

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

/// The MCP endpoint: the fixture behind the layer (and, when configured, the OAuth resource
/// server in front), served by the crate's Worker entry.
#[cfg(not(feature = "bare"))]
async fn layered(request: HttpRequest, env: Env, context: Context) -> worker::Result<Reply> {
    let mcp = |layer: SessionLayer| layer.layer(RmcpService::new(|| Ok(Everything::new())));
    match auth::layer(&env) {
        Some(auth) => serve_request(request, &env, context, |layer| auth.layer(mcp(layer))).await,
        None => serve_request(request, &env, context, mcp).await,
    }
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
