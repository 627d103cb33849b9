//! The layer's overhead per request against the bare inner service: a steady `tools/call`
//! POST with a 1 KB body in an existing session, and `initialize`.
//!
//! `cargo bench --bench overhead`; compare the medians of `bare` and `layered` per group.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use everything_fixture::Everything;
use http::Request;
use http_body::Body;
use http_body_util::{BodyExt, Full};
use mcp_edge_session::rmcp::RmcpService;
use mcp_edge_session::{SessionLayer, SessionService};
use serde_json::json;
use tower::{Layer, Service, ServiceExt};

const VERSION: &str = "2025-11-25";

fn post(session: Option<&str>, body: &Bytes) -> Request<Full<Bytes>> {
    let builder = Request::post("http://localhost/mcp")
        .header("host", "localhost")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", VERSION);
    let builder = match session {
        Some(id) => builder.header("mcp-session-id", id),
        None => builder,
    };
    builder.body(Full::new(body.clone())).unwrap()
}

/// A `tools/call` whose body is 1 KB.
fn tool_call_1kb() -> Bytes {
    let mut call = json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": { "name": "test_simple_text", "arguments": { "padding": "" } } });
    let padding = 1024 - call.to_string().len();
    call["params"]["arguments"]["padding"] = json!("x".repeat(padding));
    Bytes::from(call.to_string())
}

fn initialize_body() -> Bytes {
    Bytes::from(
        json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": VERSION, "capabilities": {},
            "clientInfo": { "name": "bench", "version": "1" } } })
        .to_string(),
    )
}

async fn drive<S, B>(service: &S, request: Request<Full<Bytes>>) -> usize
where
    S: Service<Request<Full<Bytes>>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: Body,
    B::Error: std::fmt::Debug,
{
    let response = service.clone().oneshot(request).await.unwrap();
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .len()
}

fn fixture() -> RmcpService<Everything> {
    RmcpService::new(|| Ok(Everything::new()))
}

fn layered() -> SessionService<RmcpService<Everything>> {
    SessionLayer::memory().layer(fixture())
}

fn overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let call = tool_call_1kb();
    let init = initialize_body();
    let bare = fixture();
    let layered = layered();
    let session = runtime.block_on(async {
        let response = layered.clone().oneshot(post(None, &init)).await.unwrap();
        response.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned()
    });

    let mut steady = c.benchmark_group("steady_post_tools_call_1kb");
    steady.bench_function("bare", |b| {
        b.to_async(&runtime)
            .iter(|| drive(&bare, post(Some(&session), &call)))
    });
    steady.bench_function("layered", |b| {
        b.to_async(&runtime)
            .iter(|| drive(&layered, post(Some(&session), &call)))
    });
    steady.finish();

    let mut initialize = c.benchmark_group("initialize");
    initialize.bench_function("bare", |b| {
        b.to_async(&runtime)
            .iter(|| drive(&bare, post(None, &init)))
    });
    // Each iteration creates a session; a fresh layer per sample keeps the store small.
    initialize.bench_function("layered", |b| {
        b.to_async(&runtime)
            .iter(|| drive(&layered, post(None, &init)))
    });
    initialize.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
