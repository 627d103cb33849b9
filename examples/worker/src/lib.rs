//! The conformance suite's "everything" MCP server as a Cloudflare Worker: the same stateless
//! fixture as the native example, behind `SessionLayer` with sessions in Workers KV and
//! streams in the `McpSessionHub` Durable Object.
// The `bare` build (for size comparisons only) leaves the layered path unused.
#![cfg_attr(feature = "bare", allow(unused))]

use everything_fixture::EverythingServer;
use mcp_edge_session::SessionLayer;
use tower::{Layer, ServiceExt};
use worker::send::SendWrapper;
use worker::{event, Context, Env, HttpRequest};

#[cfg(not(feature = "bare"))]
mod test_routes;

/// The hub Durable Object, exported for the runtime (bound as `TMCP_DURABLE_OBJECT`).
#[cfg(not(feature = "bare"))]
pub use mcp_edge_session::cloudflare::McpSessionHub;

#[event(fetch)]
async fn fetch(
    request: HttpRequest,
    env: Env,
    context: Context,
) -> worker::Result<http::Response<worker::Body>> {
    if request.uri().path() != "/mcp" && !request.uri().path().starts_with("/__test/") {
        return Ok(http::Response::builder()
            .status(404)
            .body(worker::Body::empty())?);
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
async fn layered(
    request: HttpRequest,
    env: Env,
    context: Context,
) -> worker::Result<http::Response<worker::Body>> {
    // `wait_until` keeps the isolate alive for a POST response that outlives its connection
    // (SSE polling, client disconnects): the rest is produced in the background and kept in the
    // hub for the client's resumption.
    let context = SendWrapper::new(context);
    let layer = SessionLayer::cloudflare(&env)?
        .with_allowed_hosts(allowed_hosts(&env))
        .with_executor(move |task| context.wait_until(task));
    let response = layer
        .layer(EverythingServer::new())
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {});
    Ok(response.map(into_worker_body))
}

/// A response body for the runtime; bodiless statuses (204) must get no stream at all.
fn into_worker_body<B>(body: B) -> worker::Body
where
    B: http_body::Body<Data = bytes::Bytes> + 'static,
    B::Error: std::fmt::Debug,
{
    if body.is_end_stream() {
        worker::Body::empty()
    } else {
        // `from_stream` cannot fail today; an empty body is the safe answer if it ever does.
        worker::Body::from_stream(http_body_util::BodyDataStream::new(body))
            .unwrap_or_else(|_| worker::Body::empty())
    }
}

/// The fixture without the layer (feature `bare`): only to measure what the layer adds.
#[cfg(feature = "bare")]
async fn bare(request: HttpRequest) -> worker::Result<http::Response<worker::Body>> {
    use http_body_util::BodyExt;
    let (parts, body) = request.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| worker::Error::RustError(e.to_string()))?
        .to_bytes();
    let request = http::Request::from_parts(parts, http_body_util::Full::new(bytes));
    let response = EverythingServer::new()
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {});
    Ok(response.map(into_worker_body))
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
