//! A tower-mcp server (as tower-mcp users write them) served by `TowerMcpService` behind
//! `SessionLayer::memory()`: the layer's context in the handler, progress and log messages on
//! the POST stream, sampling answered through the layer, cancellation, list changes on
//! `subscriptions/listen`, the stateless header checks, bad input. All through `oneshot`.
#![cfg(feature = "tower-mcp")]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::sse::SseReader;
use common::{initialize_body, request_body, tool_call, LATEST, STATELESS};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use mcp_edge_session::tower_mcp::{TowerMcpBody, TowerMcpService};
use mcp_edge_session::{McpContext, SessionBody, SessionLayer, SessionService};
use serde_json::{json, Value};
use tower::{Layer, ServiceExt};
use tower_mcp::extract::{Context, RawArgs};
use tower_mcp::protocol::{CreateMessageParams, LogLevel, LoggingMessageParams, SamplingMessage};
use tower_mcp::{CallToolResult, McpRouter, SamplingContent, Tool, ToolBuilder};

type Server = SessionService<TowerMcpService>;
type Reply = Response<SessionBody<TowerMcpBody>>;

/// Sets its flag when dropped: the handler holding it was stopped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn tool<F, Fut>(name: &str, run: F) -> Tool
where
    F: Fn(Context) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = CallToolResult> + Send + 'static,
{
    ToolBuilder::new(name)
        .description(name)
        .extractor_handler((), move |ctx: Context, RawArgs(_): RawArgs| {
            let run = run.clone();
            async move { Ok(run(ctx).await) }
        })
        .build()
}

fn router(stopped: Arc<AtomicBool>) -> McpRouter {
    let chatty = tool("chatty", |ctx| async move {
        for level in [LogLevel::Debug, LogLevel::Info, LogLevel::Error] {
            ctx.send_log(LoggingMessageParams::new(
                level,
                json!(format!("{level:?}")),
            ));
        }
        ctx.report_progress(1.0, Some(2.0), Some("half")).await;
        CallToolResult::text("chatted")
    });
    let ask = tool("ask", |ctx| async move {
        if !ctx.can_sample() {
            return CallToolResult::error("Sampling not available");
        }
        let params = CreateMessageParams::new(vec![SamplingMessage::user("Capital?")], 10);
        match ctx.sample(params).await {
            Ok(result) => match result.content_items().first() {
                Some(SamplingContent::Text { text, .. }) => CallToolResult::text(text.clone()),
                _ => CallToolResult::error("no text"),
            },
            Err(error) => CallToolResult::error(error.to_string()),
        }
    });
    let wait = tool("wait", move |_ctx| {
        let guard = SetOnDrop(stopped.clone());
        async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(guard);
            CallToolResult::text("waited")
        }
    });
    let whoami = tool("whoami", |ctx| async move {
        match ctx.extension::<McpContext>() {
            Some(mcp) => CallToolResult::text(format!(
                "{} {}",
                mcp.protocol_version,
                mcp.session_id.as_ref().map_or("none", |id| id.as_str())
            )),
            None => CallToolResult::error("no McpContext"),
        }
    });
    let change = tool("change", |ctx| async move {
        match ctx.notify_tools_list_changed() {
            true => CallToolResult::text("changed"),
            false => CallToolResult::error("no channel"),
        }
    });
    let region = ToolBuilder::new("region")
        .description("Mirrors `region` in Mcp-Param-Region")
        .input_schema(json!({
            "type": "object",
            "properties": { "region": { "type": "string", "x-mcp-header": "Region" } },
        }))
        .extractor_handler((), |RawArgs(args): RawArgs| async move {
            Ok(CallToolResult::text(
                args["region"].as_str().unwrap_or("none").to_owned(),
            ))
        })
        .build();
    [chatty, ask, wait, whoami, change, region]
        .into_iter()
        .fold(
            McpRouter::new().server_info("demo", "1.0.0"),
            McpRouter::tool,
        )
}

fn server(layer: SessionLayer, stopped: Arc<AtomicBool>) -> Server {
    layer
        .with_keep_alive(Duration::from_secs(60))
        .with_executor(|task| {
            tokio::spawn(task);
        })
        .layer(TowerMcpService::new(router(stopped)))
}

fn post(session: Option<&str>, body: Value) -> Request<Full<Bytes>> {
    common::post(session)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn send(service: &Server, request: Request<Full<Bytes>>) -> Reply {
    service.clone().oneshot(request).await.unwrap()
}

/// Initializes a session whose client declares `capabilities`; returns its id.
async fn initialize(service: &Server, capabilities: Value) -> String {
    let mut body = initialize_body(LATEST);
    body["params"]["capabilities"] = capabilities;
    let response = send(service, post(None, body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    assert_eq!(
        send(service, post(Some(&id), initialized)).await.status(),
        StatusCode::ACCEPTED
    );
    id
}

/// The messages of an SSE answer up to (and with) the response to `id`.
async fn messages_until_answer(response: Reply, id: u64) -> Vec<Value> {
    let mut stream = SseReader::new(response);
    let mut seen = Vec::new();
    while let Some((_, message)) = stream.next_message().await {
        let done = message["id"] == id && message.get("method").is_none();
        seen.push(message);
        if done {
            return seen;
        }
    }
    panic!("no answer to {id} in {seen:?}");
}

fn text(answer: &Value) -> &str {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
}

/// A stateless request; `name` goes into `Mcp-Name`, `headers` are added as they are.
fn stateless(
    id: u64,
    method: &str,
    name: Option<&str>,
    mut params: Value,
    headers: &[(&str, &str)],
) -> Request<Full<Bytes>> {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "test", "version": "1" },
    });
    let mut builder = Request::post("http://localhost/mcp")
        .header("host", "localhost")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", STATELESS)
        .header("mcp-method", method);
    if let Some(name) = name {
        builder = builder.header("mcp-name", name);
    }
    for (header, value) in headers {
        builder = builder.header(*header, *value);
    }
    let body = request_body(id, method, params).to_string();
    builder.body(Full::new(Bytes::from(body))).unwrap()
}

#[tokio::test]
async fn the_handler_reads_the_layers_context() {
    let service = server(SessionLayer::memory(), Arc::default());
    let id = initialize(&service, json!({})).await;
    let response = send(&service, post(Some(&id), tool_call(1, "whoami", json!({})))).await;
    let answer = messages_until_answer_or_json(response, 1).await;
    assert_eq!(text(&answer), format!("{LATEST} {id}"));
}

/// JSON answers are read as they are; SSE answers up to the response.
async fn messages_until_answer_or_json(response: Reply, id: u64) -> Value {
    if response.headers()["content-type"] == "application/json" {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        return serde_json::from_slice(&bytes).unwrap();
    }
    messages_until_answer(response, id).await.pop().unwrap()
}

#[tokio::test]
async fn progress_and_admitted_log_messages_come_before_the_answer() {
    let service = server(SessionLayer::memory(), Arc::default());
    let id = initialize(&service, json!({})).await;
    let set_level = request_body(1, "logging/setLevel", json!({ "level": "info" }));
    send(&service, post(Some(&id), set_level)).await;

    let call = tool_call(2, "chatty", json!({}));
    let mut call_with_token = call.clone();
    call_with_token["params"]["_meta"] = json!({ "progressToken": "p1" });
    let seen =
        messages_until_answer(send(&service, post(Some(&id), call_with_token)).await, 2).await;
    let methods: Vec<&str> = seen.iter().filter_map(|m| m["method"].as_str()).collect();
    assert_eq!(
        methods,
        [
            "notifications/message",
            "notifications/message",
            "notifications/progress"
        ],
        "debug is below the session's level: {seen:?}"
    );
    assert_eq!(seen[0]["params"]["level"], "info");
    assert_eq!(seen[1]["params"]["level"], "error");
    assert_eq!(seen[2]["params"]["progressToken"], "p1");
    assert_eq!(text(seen.last().unwrap()), "chatted");
}

#[tokio::test]
async fn sampling_goes_out_on_the_post_stream_and_the_answer_comes_back() {
    let service = server(SessionLayer::memory(), Arc::default());
    let id = initialize(&service, json!({ "sampling": {} })).await;
    let response = send(&service, post(Some(&id), tool_call(1, "ask", json!({})))).await;
    let mut stream = SseReader::new(response);
    let (_, request) = stream.next_message().await.unwrap();
    assert_eq!(request["method"], "sampling/createMessage");
    assert_eq!(
        request["params"]["messages"][0]["content"]["text"],
        "Capital?"
    );

    let answer = json!({ "jsonrpc": "2.0", "id": request["id"], "result": {
        "role": "assistant", "content": { "type": "text", "text": "Paris" }, "model": "m" } });
    assert_eq!(
        send(&service, post(Some(&id), answer)).await.status(),
        StatusCode::ACCEPTED
    );
    let (_, result) = stream.next_message().await.unwrap();
    assert_eq!(result["id"], 1);
    assert_eq!(text(&result), "Paris");
}

#[tokio::test]
async fn a_client_that_cannot_sample_is_not_asked() {
    let service = server(SessionLayer::memory(), Arc::default());
    let id = initialize(&service, json!({})).await;
    let response = send(&service, post(Some(&id), tool_call(1, "ask", json!({})))).await;
    let answer = messages_until_answer_or_json(response, 1).await;
    assert_eq!(answer["result"]["isError"], true);
    assert_eq!(text(&answer), "Sampling not available");
}

#[tokio::test]
async fn a_cancelled_request_stops_its_handler_and_gets_no_answer() {
    let stopped = Arc::new(AtomicBool::new(false));
    let service = server(SessionLayer::memory(), stopped.clone());
    let id = initialize(&service, json!({})).await;
    let response = send(&service, post(Some(&id), tool_call(5, "wait", json!({})))).await;
    let mut stream = SseReader::new(response);
    // The handler watches for a cancellation once it has run for a second.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let cancel = json!({ "jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": { "requestId": 5, "reason": "changed my mind" } });
    assert_eq!(
        send(&service, post(Some(&id), cancel)).await.status(),
        StatusCode::ACCEPTED
    );
    stream.timeout = Duration::from_secs(3);
    assert!(
        stream.next_message().await.is_none(),
        "a cancelled request is not answered"
    );
    assert!(stopped.load(Ordering::SeqCst), "the handler was stopped");
}

#[tokio::test]
async fn list_changes_reach_listen_streams() {
    let service = server(SessionLayer::memory(), Arc::default());
    let listen = stateless(
        7,
        "subscriptions/listen",
        None,
        json!({ "notifications": { "toolsListChanged": true } }),
        &[],
    );
    let mut listener = SseReader::new(send(&service, listen).await);
    let (_, ack) = listener.next_message().await.unwrap();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");

    let call = json!({ "name": "change", "arguments": {} });
    let request = stateless(8, "tools/call", Some("change"), call, &[]);
    let answer = messages_until_answer_or_json(send(&service, request).await, 8).await;
    assert_eq!(text(&answer), "changed");
    let (_, changed) = listener.next_message().await.unwrap();
    assert_eq!(changed["method"], "notifications/tools/list_changed");
}

#[tokio::test]
async fn stateless_calls_must_mirror_header_parameters() {
    let service = server(SessionLayer::memory(), Arc::default());
    let call = |header: Option<&str>| {
        let params = json!({ "name": "region", "arguments": { "region": "eu" } });
        let headers: Vec<(&str, &str)> = header
            .map(|value| ("mcp-param-region", value))
            .into_iter()
            .collect();
        stateless(3, "tools/call", Some("region"), params, &headers)
    };
    let answer = messages_until_answer_or_json(send(&service, call(Some("eu"))).await, 3).await;
    assert_eq!(text(&answer), "eu");
    for wrong in [None, Some("us")] {
        let response = send(&service, call(wrong)).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "header {wrong:?}"
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], -32020, "{body}");
        assert_eq!(body["id"], 3);
    }
}

#[tokio::test]
async fn bad_input_without_a_layer_gets_a_json_rpc_error() {
    let service = TowerMcpService::new(router(Arc::default()));
    let get = Request::get("http://localhost/mcp")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = service.clone().oneshot(get).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    for (body, code) in [
        ("{not json", -32700),
        ("[]", -32600),
        (r#"{"jsonrpc":"2.0","id":{},"method":7}"#, -32600),
    ] {
        let request = Request::post("http://localhost/mcp")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer = response.into_body().collect().await.unwrap().to_bytes();
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
    }
}
