//! An rmcp server (as rmcp users write them) served by `RmcpService` behind
//! `SessionLayer::memory()`: context from the layer, notifications and server-to-client
//! requests on the POST stream, client answers and cancellations routed back. All through
//! `oneshot`.
#![cfg(feature = "rmcp")]
// Logging and sampling are deprecated from 2026-07-28 on; the sessionful era still has them.
#![allow(deprecated)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::sse::SseReader;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use mcp_edge_session::auth::{AuthLayer, Identity, StaticTokens};
use mcp_edge_session::rmcp::RmcpService;
use mcp_edge_session::{McpContext, SessionLayer, SessionService};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    ElicitRequestParams, LoggingMessageNotificationParam, ProgressNotificationParam,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use serde_json::{json, Value};
use tower::{Layer, ServiceExt};

#[derive(Clone)]
struct Demo {
    tool_router: ToolRouter<Self>,
    /// Set when `wait` sees its request cancelled.
    cancelled: Arc<AtomicBool>,
    /// How many reports `flood` has sent.
    sent: Arc<AtomicUsize>,
}

#[derive(Debug, serde::Deserialize, rmcp::schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct AddArgs {
    a: i64,
    b: i64,
}

#[tool_router]
impl Demo {
    #[tool(description = "Who is calling, as the layer knows it")]
    async fn whoami(&self, context: RequestContext<RoleServer>) -> Result<String, ErrorData> {
        let parts = context.extensions.get::<http::request::Parts>();
        let mcp = parts
            .and_then(|parts| parts.extensions.get::<McpContext>())
            .ok_or_else(|| ErrorData::internal_error("no McpContext", None))?;
        let identity = parts.and_then(|parts| parts.extensions.get::<Identity>());
        let peer = context.peer.peer_info();
        Ok(format!(
            "client: {}\nprotocol: {}\nsession: {}\nlog level: {:?}\npeer: {}\nidentity: {}",
            mcp.client_info.clone().unwrap_or(Value::Null),
            mcp.protocol_version,
            mcp.session_id.as_ref().map_or("none", |id| id.as_str()),
            mcp.log_level,
            peer.map_or("none".to_owned(), |p| p.client_info.name.clone()),
            identity.map_or("none".to_owned(), |i| format!(
                "{} {:?}",
                i.subject, i.scopes
            )),
        ))
    }

    #[tool(description = "Add two integers")]
    async fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> String {
        a.saturating_add(b).to_string()
    }

    #[tool(description = "Logs at three levels and reports progress twice")]
    async fn chatty(&self, context: RequestContext<RoleServer>) -> Result<String, ErrorData> {
        for (level, text) in [
            ("debug", "details"),
            ("info", "working"),
            ("error", "trouble"),
        ] {
            let params: LoggingMessageNotificationParam =
                serde_json::from_value(json!({ "level": level, "data": text })).unwrap();
            let _ = context.peer.notify_logging_message(params).await;
        }
        if let Some(token) = context.meta.get_progress_token() {
            for progress in [50, 100] {
                let params: ProgressNotificationParam = serde_json::from_value(json!({
                    "progressToken": token, "progress": progress, "total": 100,
                }))
                .unwrap();
                let _ = context.peer.notify_progress(params).await;
            }
        }
        Ok("done".to_owned())
    }

    #[tool(description = "Asks the user for their name")]
    async fn ask(&self, context: RequestContext<RoleServer>) -> Result<String, ErrorData> {
        let params: ElicitRequestParams = serde_json::from_value(json!({
            "mode": "form",
            "message": "Your name?",
            "requestedSchema": { "type": "object", "properties": { "name": { "type": "string" } } },
        }))
        .unwrap();
        match context.peer.create_elicitation(params).await {
            Ok(answer) => Ok(format!("{:?}: {}", answer.action, json!(answer.content))),
            Err(error) => Ok(format!("elicitation failed: {error}")),
        }
    }

    #[tool(description = "Reports progress 1,000 times, counting the reports sent")]
    async fn flood(&self, context: RequestContext<RoleServer>) -> String {
        let token = context.meta.get_progress_token().expect("a progress token");
        for progress in 0..1000 {
            let params: ProgressNotificationParam =
                serde_json::from_value(json!({ "progressToken": token, "progress": progress }))
                    .unwrap();
            let _ = context.peer.notify_progress(params).await;
            self.sent.fetch_add(1, Ordering::SeqCst);
        }
        "flooded".to_owned()
    }

    #[tool(description = "Announces that the tool list changed, as rmcp handlers do")]
    async fn retool(&self, context: RequestContext<RoleServer>) -> Result<String, ErrorData> {
        context
            .peer
            .notify_tool_list_changed()
            .await
            .map_err(|error| ErrorData::internal_error(error.to_string(), None))?;
        Ok("retooled".to_owned())
    }

    #[tool(description = "Waits until the request is cancelled")]
    async fn wait(&self, context: RequestContext<RoleServer>) -> String {
        context.ct.cancelled().await;
        self.cancelled.store(true, Ordering::SeqCst);
        "cancelled".to_owned()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Demo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_logging()
                .build(),
        )
    }
}

type App = SessionService<RmcpService<Demo>>;

/// One layer (one memory store and hub) per test; `cancelled` tells when `wait` was cancelled.
fn app() -> (App, Arc<AtomicBool>) {
    let (app, cancelled, _) = app_counting();
    (app, cancelled)
}

/// [`app`], also counting what `flood` sent.
fn app_counting() -> (App, Arc<AtomicBool>, Arc<AtomicUsize>) {
    let cancelled = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let (flag, count) = (cancelled.clone(), sent.clone());
    let service = RmcpService::new(move || {
        Ok(Demo {
            tool_router: Demo::tool_router(),
            cancelled: flag.clone(),
            sent: count.clone(),
        })
    });
    let layer = SessionLayer::memory().with_executor(|task| {
        tokio::spawn(task);
    });
    (layer.layer(service), cancelled, sent)
}

fn request(session: Option<&str>, version: &str, body: &Value) -> Request<Full<Bytes>> {
    let mut builder = Request::post("http://localhost/mcp")
        .header("host", "localhost")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", version);
    if let Some(session) = session {
        builder = builder.header("mcp-session-id", session);
    }
    builder
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// A legacy request of `session`, answered.
async fn post(app: &App, session: &str, body: &Value) -> http::Response<SessionBodyOf> {
    app.clone()
        .oneshot(request(Some(session), "2025-11-25", body))
        .await
        .unwrap()
}

type SessionBodyOf = mcp_edge_session::SessionBody<mcp_edge_session::rmcp::RmcpBody>;

/// A stateless (2026-07-28) request with its context in `_meta` and the mirrored headers.
fn stateless(
    id: i64,
    method: &str,
    mut params: Value,
    log_level: Option<&str>,
) -> Request<Full<Bytes>> {
    let mut meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "stateless-client", "version": "1" },
    });
    if let Some(level) = log_level {
        meta["io.modelcontextprotocol/logLevel"] = json!(level);
    }
    params["_meta"] = meta;
    let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
    let mut builder = Request::post("http://localhost/mcp")
        .header("host", "localhost")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    if let Some(name) = params.get("name").and_then(Value::as_str) {
        builder = builder.header("mcp-name", name);
    }
    builder
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn json_of(
    response: http::Response<impl http_body::Body<Error = impl std::fmt::Debug>>,
) -> Value {
    let bytes = tokio::time::timeout(Duration::from_secs(10), response.into_body().collect())
        .await
        .expect("body ended")
        .unwrap()
        .to_bytes();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {bytes:?}"))
}

/// `initialize` + `notifications/initialized` at 2025-11-25; returns the session id.
async fn open_session(app: &App, capabilities: Value) -> String {
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25", "capabilities": capabilities,
            "clientInfo": { "name": "rmcp-test-client", "version": "9.9.9" },
        }
    });
    let response = app
        .clone()
        .oneshot(request(None, "2025-11-25", &initialize))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let answer = json_of(response).await;
    assert_eq!(
        answer["result"]["protocolVersion"], "2025-11-25",
        "{answer}"
    );
    assert!(
        answer["result"]["capabilities"]["tools"].is_object(),
        "{answer}"
    );

    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let response = post(app, &session, &initialized).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    session
}

fn tool_call(id: i64, name: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": name, "arguments": arguments}})
}

fn tool_text(answer: &Value) -> &str {
    assert_ne!(answer["result"]["isError"], true, "tool failed: {answer}");
    answer["result"]["content"][0]["text"]
        .as_str()
        .expect("text content")
}

/// The messages of an SSE response up to and including the answer to `id`.
async fn messages_until_answer<B>(stream: &mut SseReader<B>, id: i64) -> Vec<Value>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Debug,
{
    let mut messages = Vec::new();
    while let Some((_, message)) = stream.next_message().await {
        let done = message["id"] == id && message.get("method").is_none();
        messages.push(message);
        if done {
            return messages;
        }
    }
    panic!("stream ended before the answer to {id}: {messages:?}");
}

#[tokio::test]
async fn the_tool_sees_the_sessions_client_through_parts_and_peer_info() {
    let (app, _) = app();
    let session = open_session(&app, json!({})).await;
    let response = post(&app, &session, &tool_call(2, "whoami", json!({}))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("mcp-session-id").is_none());
    let answer = json_of(response).await;
    let text = tool_text(&answer);
    assert!(text.contains("rmcp-test-client"), "{text}");
    assert!(text.contains(&session), "{text}");
    assert!(text.contains("protocol: 2025-11-25"), "{text}");
    assert!(text.contains("peer: rmcp-test-client"), "{text}");

    let response = post(
        &app,
        &session,
        &tool_call(3, "add", json!({"a": 2, "b": 40})),
    )
    .await;
    assert_eq!(tool_text(&json_of(response).await), "42");
}

#[tokio::test]
async fn logging_and_progress_are_events_of_the_post_stream_and_honour_the_level() {
    let (app, _) = app();
    let session = open_session(&app, json!({})).await;
    let set_level = json!({"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel", "params": {"level": "info"}});
    let response = post(&app, &session, &set_level).await;
    assert_eq!(json_of(response).await["result"], json!({}));

    let mut call = tool_call(3, "chatty", json!({}));
    call["params"]["_meta"] = json!({ "progressToken": "tok" });
    let response = post(&app, &session, &call).await;
    let mut stream = SseReader::new(response);
    let messages = messages_until_answer(&mut stream, 3).await;
    let logged: Vec<&str> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/message")
        .map(|m| m["params"]["data"].as_str().unwrap())
        .collect();
    assert_eq!(
        logged,
        ["working", "trouble"],
        "debug is below the session's level"
    );
    let progress: Vec<f64> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .inspect(|m| assert_eq!(m["params"]["progressToken"], "tok"))
        .map(|m| m["params"]["progress"].as_f64().unwrap())
        .collect();
    assert_eq!(progress, [50.0, 100.0]);
    assert_eq!(tool_text(messages.last().unwrap()), "done");
    assert!(stream.ended().await, "the POST stream ends with its answer");
}

#[tokio::test]
async fn an_elicitation_goes_out_on_the_post_stream_and_the_posted_answer_completes_it() {
    let (app, _) = app();
    let session = open_session(&app, json!({ "elicitation": { "form": {} } })).await;
    let response = post(&app, &session, &tool_call(2, "ask", json!({}))).await;
    let mut stream = SseReader::new(response);
    let (_, elicitation) = stream
        .next_message()
        .await
        .expect("the elicitation request");
    assert_eq!(elicitation["method"], "elicitation/create", "{elicitation}");
    assert_eq!(elicitation["params"]["message"], "Your name?");
    let id = elicitation["id"].clone();
    assert!(
        id.as_str().is_some_and(|id| id.starts_with("srv-")),
        "a hub-routable id: {id}"
    );

    let answer = json!({ "jsonrpc": "2.0", "id": id, "result": { "action": "accept", "content": { "name": "Ada" } } });
    let response = post(&app, &session, &answer).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let messages = messages_until_answer(&mut stream, 2).await;
    let text = tool_text(messages.last().unwrap());
    assert!(text.contains("Accept") && text.contains("Ada"), "{text}");
}

#[tokio::test]
async fn a_client_error_answer_reaches_the_handler_as_an_error() {
    let (app, _) = app();
    let session = open_session(&app, json!({ "elicitation": { "form": {} } })).await;
    let response = post(&app, &session, &tool_call(2, "ask", json!({}))).await;
    let mut stream = SseReader::new(response);
    let (_, elicitation) = stream.next_message().await.unwrap();
    let refusal = json!({ "jsonrpc": "2.0", "id": elicitation["id"], "error": { "code": -32600, "message": "user closed the dialog" } });
    let response = post(&app, &session, &refusal).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let messages = messages_until_answer(&mut stream, 2).await;
    let text = tool_text(messages.last().unwrap());
    assert!(
        text.contains("elicitation failed") && text.contains("user closed the dialog"),
        "{text}"
    );
}

#[tokio::test]
async fn notifications_cancelled_posted_separately_cancels_a_long_running_handler() {
    let (app, cancelled) = app();
    let session = open_session(&app, json!({})).await;
    let call = tool_call(7, "wait", json!({}));
    let response = post(&app, &session, &call).await;
    // No quick answer: the response is a stream, so the client keeps it open.
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    // The client reads the stream meanwhile, as an HTTP server polls a response body.
    let reader = tokio::spawn(async move {
        let mut stream = SseReader::new(response);
        stream.timeout = Duration::from_secs(10);
        let mut messages = Vec::new();
        while let Some((_, message)) = stream.next_message().await {
            messages.push(message);
        }
        messages
    });
    // Past the second after which a request watches for cancellations through the hub.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!cancelled.load(Ordering::SeqCst));

    let cancel = json!({ "jsonrpc": "2.0", "method": "notifications/cancelled",
                         "params": { "requestId": 7, "reason": "changed my mind" } });
    let response = post(&app, &session, &cancel).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    // Within 5 s, where falling silent would take the reader's 10 s.
    let messages = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the cancelled request's stream ends")
        .unwrap();
    // A cancelled request is not answered.
    assert!(
        messages.iter().all(|m| m.get("result").is_none()),
        "{messages:?}"
    );
    assert!(
        cancelled.load(Ordering::SeqCst),
        "the handler's token was cancelled"
    );
}

#[tokio::test]
async fn stateless_requests_are_served_and_server_to_client_requests_refused() {
    let (app, _) = app();
    let response = app
        .clone()
        .oneshot(stateless(1, "server/discover", json!({}), None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let discovered = json_of(response).await;
    assert!(
        discovered["result"]["supportedVersions"]
            .as_array()
            .is_some_and(|v| v.contains(&json!("2026-07-28"))),
        "{discovered}"
    );

    let response = app
        .clone()
        .oneshot(stateless(
            2,
            "tools/call",
            json!({"name": "whoami", "arguments": {}}),
            None,
        ))
        .await
        .unwrap();
    let answer = json_of(response).await;
    let text = tool_text(&answer);
    assert!(
        text.contains("stateless-client") && text.contains("session: none"),
        "{text}"
    );

    let response = app
        .clone()
        .oneshot(stateless(
            3,
            "tools/call",
            json!({"name": "ask", "arguments": {}}),
            None,
        ))
        .await
        .unwrap();
    let answer = json_of(response).await;
    assert!(
        tool_text(&answer).contains("elicitation failed"),
        "{answer}"
    );

    for (id, method) in [(4, "ping"), (5, "initialize"), (6, "logging/setLevel")] {
        let response = app
            .clone()
            .oneshot(stateless(id, method, json!({}), None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method}");
        assert_eq!(json_of(response).await["error"]["code"], -32601, "{method}");
    }
    let response = app
        .clone()
        .oneshot(stateless(7, "no/such/method", json!({}), None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_of(response).await["error"]["code"], -32601);
}

#[tokio::test]
async fn stateless_logging_needs_the_requests_log_level() {
    let (app, _) = app();
    for (level, expected) in [
        (None, vec![]),
        (Some("error"), vec!["trouble"]),
        (Some("debug"), vec!["details", "working", "trouble"]),
    ] {
        let response = app
            .clone()
            .oneshot(stateless(
                1,
                "tools/call",
                json!({"name": "chatty", "arguments": {}}),
                level,
            ))
            .await
            .unwrap();
        let messages = if response.headers()["content-type"] == "text/event-stream" {
            messages_until_answer(&mut SseReader::new(response), 1).await
        } else {
            vec![json_of(response).await]
        };
        let logged: Vec<&str> = messages
            .iter()
            .filter(|m| m["method"] == "notifications/message")
            .map(|m| m["params"]["data"].as_str().unwrap())
            .collect();
        assert_eq!(logged, expected, "level {level:?}");
    }
}

#[tokio::test]
async fn closing_a_stateless_stream_cancels_the_handler() {
    let (app, cancelled) = app();
    let call = stateless(
        1,
        "tools/call",
        json!({"name": "wait", "arguments": {}}),
        None,
    );
    let response = app.clone().oneshot(call).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert!(!cancelled.load(Ordering::SeqCst));
    drop(response);
    tokio::time::timeout(Duration::from_secs(5), async {
        while !cancelled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the handler saw its cancellation");
}

#[tokio::test]
async fn a_handler_that_outpaces_its_client_waits_for_it() {
    let (app, _, sent) = app_counting();
    let session = open_session(&app, json!({})).await;
    let mut call = tool_call(1, "flood", json!({}));
    call["params"]["_meta"] = json!({ "progressToken": "f" });
    let response = post(&app, &session, &call).await;
    // The client reads nothing for a while: the handler gets only a bounded head start.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ahead = sent.load(Ordering::SeqCst);
    assert!(
        ahead < 100,
        "{ahead} reports sent to a client that reads nothing"
    );
    let mut stream = SseReader::new(response);
    let messages = messages_until_answer(&mut stream, 1).await;
    assert_eq!(messages.len(), 1001, "every report, then the answer");
    assert_eq!(sent.load(Ordering::SeqCst), 1000);
}

#[tokio::test]
async fn without_a_layer_get_is_refused_with_the_allowed_method() {
    let service = RmcpService::new(|| {
        Ok(Demo {
            tool_router: Demo::tool_router(),
            cancelled: Arc::default(),
            sent: Arc::default(),
        })
    });
    let get = Request::get("http://localhost/mcp")
        .header("accept", "text/event-stream")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = service.oneshot(get).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(json_of(response).await["error"]["code"], -32000);
}

#[tokio::test]
async fn an_rmcp_handler_sees_the_verified_identity_in_both_eras() {
    let (app, _) = app();
    let tokens = StaticTokens::new().with_token(
        "key-alice",
        Identity::new("alice").with_scopes(["mcp:tools"]),
    );
    let auth = AuthLayer::new("http://localhost/mcp", tokens)
        .unwrap()
        .with_required_scopes(["mcp:tools"]);
    let app = auth.layer(app);
    let with_key = |mut request: Request<Full<Bytes>>| {
        request
            .headers_mut()
            .insert("authorization", "Bearer key-alice".parse().unwrap());
        request
    };
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": { "name": "c", "version": "1" } }
    });
    let response = app
        .clone()
        .oneshot(with_key(request(None, "2025-11-25", &initialize)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let response = app
        .clone()
        .oneshot(with_key(request(
            Some(&session),
            "2025-11-25",
            &initialized,
        )))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let call = tool_call(2, "whoami", json!({}));
    let legacy = app
        .clone()
        .oneshot(with_key(request(Some(&session), "2025-11-25", &call)))
        .await
        .unwrap();
    let stateless = app
        .clone()
        .oneshot(with_key(stateless(
            3,
            "tools/call",
            json!({"name": "whoami", "arguments": {}}),
            None,
        )))
        .await
        .unwrap();
    for (era, response) in [("legacy", legacy), ("stateless", stateless)] {
        let answer = json_of(response).await;
        assert!(
            tool_text(&answer).contains("identity: alice [\"mcp:tools\"]"),
            "{era}: {answer}"
        );
    }
    // Without the key the handler is never reached.
    let refused = app
        .clone()
        .oneshot(request(Some(&session), "2025-11-25", &call))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_handlers_list_change_reaches_listeners_and_sessions_not_only_its_own_stream() {
    let (app, _) = app();
    let listen = stateless(
        9,
        "subscriptions/listen",
        json!({ "notifications": { "toolsListChanged": true } }),
        None,
    );
    let mut listener = SseReader::new(app.clone().oneshot(listen).await.unwrap());
    let (_, ack) = listener.next_message().await.unwrap();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    let other = open_session(&app, json!({})).await;
    let get = Request::get("http://localhost/mcp")
        .header("host", "localhost")
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &other)
        .header("mcp-protocol-version", "2025-11-25")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let mut other_stream = SseReader::new(app.clone().oneshot(get).await.unwrap());

    let caller = open_session(&app, json!({})).await;
    let answer = json_of(post(&app, &caller, &tool_call(3, "retool", json!({}))).await).await;
    assert_eq!(tool_text(&answer), "retooled");
    let (_, heard) = listener.next_message().await.unwrap();
    assert_eq!(heard["method"], "notifications/tools/list_changed");
    assert_eq!(
        heard["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        9
    );
    let (_, heard) = other_stream.next_message().await.unwrap();
    assert_eq!(heard["method"], "notifications/tools/list_changed");
}
