//! Shared helpers for the behaviour tests: request builders, an SSE reader, and backends
//! that count or fail.
#![allow(dead_code, unreachable_pub)]

pub mod backends;
pub mod redis_server;
pub mod sse;

use std::sync::Arc;

use bytes::Bytes;
use everything_fixture::Everything;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use mcp_edge_session::rmcp::{RmcpBody, RmcpService};
use mcp_edge_session::{SessionBody, SessionLayer, SessionService};
use serde_json::{json, Value};
use tower::{Layer, ServiceExt};

pub type Fixture = SessionService<RmcpService<Everything>>;
pub type Reply = Response<SessionBody<RmcpBody>>;

pub const LATEST: &str = "2025-11-25";
pub const STATELESS: &str = "2026-07-28";

/// The fixture behind a layer that finishes detached POST streams on tokio.
pub fn fixture(layer: SessionLayer) -> Fixture {
    layer
        .with_executor(|task| {
            tokio::spawn(task);
        })
        .layer(RmcpService::new(|| Ok(Everything::new())))
}

pub fn memory_fixture() -> Fixture {
    fixture(SessionLayer::memory())
}

/// A POST as a well-behaved legacy client sends it.
pub fn post(session: Option<&str>) -> http::request::Builder {
    let builder = Request::post("http://localhost/mcp")
        .header("host", "localhost:8080")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", LATEST);
    match session {
        Some(id) => builder.header("mcp-session-id", id),
        None => builder,
    }
}

pub fn post_request(session: Option<&str>, body: Value) -> Request<Full<Bytes>> {
    post(session)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

pub fn get_request(session: &str, last_event_id: Option<&str>) -> Request<Full<Bytes>> {
    let builder = Request::get("http://localhost/mcp")
        .header("host", "localhost:8080")
        .header("accept", "text/event-stream")
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", LATEST);
    let builder = match last_event_id {
        Some(id) => builder.header("last-event-id", id),
        None => builder,
    };
    builder.body(Full::new(Bytes::new())).unwrap()
}

pub fn delete_request(session: &str) -> Request<Full<Bytes>> {
    Request::delete("http://localhost/mcp")
        .header("host", "localhost:8080")
        .header("mcp-session-id", session)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

pub fn initialize_body(version: &str) -> Value {
    json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": { "sampling": {}, "elicitation": {} },
            "clientInfo": { "name": "test-client", "version": "1.2.3" },
        }
    })
}

pub fn request_body(id: u64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

pub fn tool_call(id: u64, name: &str, arguments: Value) -> Value {
    request_body(
        id,
        "tools/call",
        json!({ "name": name, "arguments": arguments }),
    )
}

/// Sends a request and returns the response.
pub async fn send(service: &Fixture, request: Request<Full<Bytes>>) -> Reply {
    service.clone().oneshot(request).await.unwrap()
}

/// Initializes a session at `version` and returns its id.
pub async fn initialize(service: &Fixture, version: &str) -> String {
    let response = send(service, post_request(None, initialize_body(version))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = response
        .headers()
        .get("mcp-session-id")
        .expect("initialize answers with a session id")
        .to_str()
        .unwrap()
        .to_owned();
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let response = send(service, post_request(Some(&id), initialized)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    id
}

/// Reads a whole (finite) body.
pub async fn body_bytes(response: Reply) -> Bytes {
    response.into_body().collect().await.unwrap().to_bytes()
}

/// Reads a JSON body.
pub async fn json_body(response: Reply) -> Value {
    let bytes = body_bytes(response).await;
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {bytes:?}"))
}

/// Asserts a refusal: status, JSON-RPC error code, and a JSON content type.
pub async fn assert_rejected(response: Reply, status: StatusCode, code: i64) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = json_body(response).await;
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    body
}

/// The JSON-RPC response to request `id` in a JSON or SSE answer.
pub async fn answer(response: Reply, id: u64) -> Value {
    let is_sse = response.headers()["content-type"] == "text/event-stream";
    if !is_sse {
        let body = json_body(response).await;
        assert_eq!(body["id"], id);
        return body;
    }
    let mut reader = sse::SseReader::new(response);
    loop {
        let event = reader
            .next_event()
            .await
            .expect("stream ended before the answer");
        if let Some(message) = event.json() {
            if message["id"] == id && message.get("method").is_none() {
                return message;
            }
        }
    }
}

pub fn shared<T>(value: T) -> Arc<T> {
    Arc::new(value)
}

/// A minimal inner service: answers every JSON-RPC message with the JSON `answer(message)`
/// returns (the whole response message), as `application/json`.
pub fn json_server(
    answer: fn(&Value) -> Value,
) -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
       + Send {
    tower::service_fn(move |request: Request<Full<Bytes>>| async move {
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok(Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(answer(&message).to_string())))
            .unwrap())
    })
}

/// The streamed body of a hand-written inner service's SSE answer.
pub type StreamingBody = http_body_util::StreamBody<
    futures_util::stream::BoxStream<
        'static,
        Result<http_body::Frame<Bytes>, std::convert::Infallible>,
    >,
>;

/// An `initialize` result for hand-written inner services.
pub fn initialize_result() -> Value {
    json!({ "protocolVersion": LATEST, "capabilities": {}, "serverInfo": { "name": "x", "version": "1" } })
}
