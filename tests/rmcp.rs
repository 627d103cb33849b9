//! An rmcp 3.11 server, run stateless, behind `SessionLayer::memory()`: sessions, client
//! info and `logging/setLevel` come from the layer, tools from rmcp. All through `oneshot`.
//!
//! The server is a copy of the one in `examples/rmcp.rs` (tests cannot import examples).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use mcp_edge_session::{McpContext, SessionLayer, SessionService};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use serde_json::{json, Value};
use tower::{ServiceBuilder, ServiceExt};

#[derive(Clone)]
struct Demo {
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, serde::Deserialize, rmcp::schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct AddArgs {
    a: i64,
    b: i64,
}

#[tool_router]
impl Demo {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Who is calling, as the layer knows it")]
    async fn whoami(&self, context: RequestContext<RoleServer>) -> Result<String, ErrorData> {
        let mcp = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<McpContext>())
            .ok_or_else(|| ErrorData::internal_error("no McpContext", None))?;
        let info = mcp.client_info.clone().unwrap_or(Value::Null);
        Ok(format!(
            "client: {} {}\nprotocol: {}\nsession: {}\nlog level: {:?}",
            info["name"].as_str().unwrap_or("?"),
            info["version"].as_str().unwrap_or("?"),
            mcp.protocol_version,
            mcp.session_id.as_ref().map_or("none", |id| id.as_str()),
            mcp.log_level,
        ))
    }

    #[tool(description = "Add two integers")]
    async fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> String {
        a.saturating_add(b).to_string()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Demo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

type Rmcp = StreamableHttpService<Demo, NeverSessionManager>;

fn rmcp_service() -> Rmcp {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_sse_keep_alive(None)
        .disable_allowed_hosts();
    StreamableHttpService::new(
        || Ok(Demo::new()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// One layer (one memory store) per test; clone it for each request.
fn app() -> SessionService<Rmcp> {
    ServiceBuilder::new()
        .layer(SessionLayer::memory())
        .service(rmcp_service())
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{
    "protocolVersion":"2025-11-25","capabilities":{},
    "clientInfo":{"name":"rmcp-test-client","version":"9.9.9"}}}"#;

fn request(session: Option<&str>, version: Option<&str>, body: &str) -> Request<Full<Bytes>> {
    let mut builder = Request::post("http://localhost/mcp")
        .header("host", "localhost")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json");
    if let Some(session) = session {
        builder = builder.header("mcp-session-id", session);
    }
    if let Some(version) = version {
        builder = builder.header("mcp-protocol-version", version);
    }
    builder
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

/// A response read to its end (bounded in time, so a stream that never closes fails the test).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

async fn send<S, B>(service: S, request: Request<Full<Bytes>>) -> Answer
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body,
    B::Error: std::fmt::Debug,
{
    let response = service.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(Duration::from_secs(10), body.collect())
        .await
        .expect("response body did not end")
        .unwrap()
        .to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

impl Answer {
    fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The JSON-RPC messages of the body: the `data` of each SSE event (events without data,
    /// such as priming events, are skipped), or the JSON body itself.
    async fn messages(&self) -> Vec<Value> {
        if self.content_type().starts_with("text/event-stream") {
            use eventsource_stream::Eventsource;
            let events: Vec<_> =
                futures_util::stream::iter([Ok::<_, std::convert::Infallible>(self.body.clone())])
                    .eventsource()
                    .collect()
                    .await;
            events
                .into_iter()
                .map(|event| event.expect("well-formed SSE"))
                .filter(|event| !event.data.is_empty())
                .map(|event| serde_json::from_str(&event.data).expect("SSE data is JSON"))
                .collect()
        } else {
            assert!(
                self.content_type().starts_with("application/json"),
                "unexpected content-type {:?}",
                self.content_type()
            );
            vec![serde_json::from_slice(&self.body).expect("JSON body")]
        }
    }

    /// The one JSON-RPC response to request `id`.
    async fn response_to(&self, id: i64) -> Value {
        let mut found: Vec<Value> = self
            .messages()
            .await
            .into_iter()
            .filter(|m| m["id"] == json!(id) && m.get("method").is_none())
            .collect();
        assert_eq!(found.len(), 1, "one answer to id {id} in {:?}", self.body);
        found.remove(0)
    }

    fn session_id(&self) -> String {
        self.headers
            .get("mcp-session-id")
            .expect("mcp-session-id header")
            .to_str()
            .unwrap()
            .to_owned()
    }
}

/// `initialize` + `notifications/initialized`; returns the session id.
async fn open_session(app: &SessionService<Rmcp>) -> String {
    let answer = send(app.clone(), request(None, None, INITIALIZE)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let session = answer.session_id();
    let response = answer.response_to(1).await;
    assert_eq!(response["jsonrpc"], "2.0");
    assert_eq!(response["result"]["protocolVersion"], "2025-11-25");
    assert!(response["result"]["capabilities"]["tools"].is_object());

    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let answer = send(
        app.clone(),
        request(Some(&session), Some("2025-11-25"), initialized),
    )
    .await;
    assert!(answer.status.is_success(), "initialized: {}", answer.status);
    session
}

fn tool_call(id: i64, name: &str, arguments: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": name, "arguments": arguments}})
    .to_string()
}

/// The text of a successful `tools/call` result.
fn tool_text(response: &Value) -> &str {
    let result = &response["result"];
    assert_ne!(result["isError"], true, "tool failed: {response}");
    result["content"][0]["text"].as_str().expect("text content")
}

#[tokio::test]
async fn client_info_from_initialize_reaches_the_rmcp_tool() {
    let app = app();
    let session = open_session(&app).await;

    let call = tool_call(2, "whoami", json!({}));
    let answer = send(
        app.clone(),
        request(Some(&session), Some("2025-11-25"), &call),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer.headers.get("mcp-session-id").is_none(),
        "only initialize answers carry the session id"
    );
    let response = answer.response_to(2).await;
    let text = tool_text(&response);
    assert!(text.contains("rmcp-test-client"), "{text}");
    assert!(text.contains("9.9.9"), "{text}");
    assert!(text.contains(&session), "{text}");
    assert!(text.contains("protocol: 2025-11-25"), "{text}");

    let call = tool_call(3, "add", json!({"a": 2, "b": 40}));
    let answer = send(
        app.clone(),
        request(Some(&session), Some("2025-11-25"), &call),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(tool_text(&answer.response_to(3).await), "42");
}

#[tokio::test]
async fn tool_calls_need_a_known_session() {
    let app = app();
    let _session = open_session(&app).await;
    let call = tool_call(7, "whoami", json!({}));

    for (session, status) in [
        (None, StatusCode::BAD_REQUEST),
        (
            Some("0123456789abcdef0123456789abcdef"),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let answer = send(app.clone(), request(session, Some("2025-11-25"), &call)).await;
        assert_eq!(answer.status, status, "session {session:?}");
        assert!(answer.content_type().starts_with("application/json"));
        let messages = answer.messages().await;
        assert_eq!(messages.len(), 1);
        let error = &messages[0];
        assert_eq!(error["jsonrpc"], "2.0");
        assert!(error.get("result").is_none(), "{error}");
        assert!(error["error"]["code"].is_i64(), "{error}");
        assert!(error["error"]["message"].is_string(), "{error}");
    }
}

#[tokio::test]
async fn set_level_unimplemented_by_rmcp_is_answered_by_the_layer() {
    let set_level =
        r#"{"jsonrpc":"2.0","id":5,"method":"logging/setLevel","params":{"level":"warning"}}"#;

    // rmcp alone does not implement it.
    let alone = send(rmcp_service(), request(None, Some("2025-11-25"), set_level)).await;
    assert_eq!(alone.status, StatusCode::OK);
    assert_eq!(alone.response_to(5).await["error"]["code"], -32601);

    // Behind the layer the client gets `{}`, and the level is part of the session.
    let app = app();
    let session = open_session(&app).await;
    let answer = send(
        app.clone(),
        request(Some(&session), Some("2025-11-25"), set_level),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let response = answer.response_to(5).await;
    assert!(response.get("error").is_none(), "{response}");
    assert_eq!(response["result"], json!({}));

    let call = tool_call(6, "whoami", json!({}));
    let answer = send(
        app.clone(),
        request(Some(&session), Some("2025-11-25"), &call),
    )
    .await;
    let text = tool_text(&answer.response_to(6).await).to_owned();
    assert!(text.contains("log level: Some(Warning)"), "{text}");
}
