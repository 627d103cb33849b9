//! Bad input, table-driven, through `oneshot`: every case gets the right HTTP status and a
//! JSON-RPC error body (or the documented empty answer), and a session opened before it keeps
//! working afterwards. `tests/worker/bad-input.test.mjs` runs the same table against the
//! Worker (`tests/bad_input.json` is the table).

mod common;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use serde_json::Value;
use tower::{Layer, ServiceExt};

/// One row of `tests/bad_input.json`.
#[derive(Deserialize)]
struct Case {
    name: String,
    #[serde(default = "post")]
    method: String,
    /// Headers on top of (or, with a `null` value, instead of) a well-behaved client's.
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
    /// `"$session"` in a header value stands for the live session's id.
    #[serde(default)]
    session: bool,
    /// The body: a JSON value sent as its text, or `raw` (bytes as a string), `raw_hex`, or
    /// `nested` (params holding that many nested arrays).
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    raw: Option<String>,
    #[serde(default)]
    raw_hex: Option<String>,
    #[serde(default)]
    nested: Option<usize>,
    #[serde(default)]
    repeat: Option<usize>,
    /// Requests `http` cannot carry (control characters in a header): the Worker test only.
    #[serde(default)]
    worker_only: bool,
    status: u16,
    /// The JSON-RPC error code, when the answer is a JSON-RPC error.
    #[serde(default)]
    code: Option<i64>,
    /// Another code servers give for the same case (resource not found: `-32002` in rmcp,
    /// `-32602`, invalid params, in tower-mcp).
    #[serde(default)]
    or_code: Option<i64>,
}

fn post() -> String {
    "POST".to_owned()
}

fn request(case: &Case, session: &str) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(case.method.as_str())
        .uri("http://localhost/mcp");
    let mut headers = serde_json::Map::new();
    for (name, value) in [
        ("host", "localhost:8080"),
        ("accept", "application/json, text/event-stream"),
        ("content-type", "application/json"),
        ("mcp-protocol-version", LATEST),
    ] {
        headers.insert(name.to_owned(), Value::from(value));
    }
    if case.session {
        headers.insert("mcp-session-id".to_owned(), Value::from(session));
    }
    for (name, value) in &case.headers {
        headers.insert(name.clone(), value.clone());
    }
    for (name, value) in &headers {
        match value {
            Value::String(text) => {
                let text = text.replace("$session", session);
                let bytes = match text.strip_prefix("hex:") {
                    Some(hex) => decode_hex(hex),
                    None => text.into_bytes(),
                };
                builder = builder.header(name, http::HeaderValue::from_bytes(&bytes).unwrap());
            }
            Value::Null => {}
            other => panic!("{}: header {name} is {other}", case.name),
        }
    }
    let body: Vec<u8> = if let Some(depth) = case.nested {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"a":{nested}}}}}"#)
            .into_bytes()
    } else if let Some(raw) = &case.raw {
        raw.repeat(case.repeat.unwrap_or(1)).into_bytes()
    } else if let Some(hex) = &case.raw_hex {
        decode_hex(hex)
    } else if let Some(body) = &case.body {
        body.to_string().replace("$session", session).into_bytes()
    } else {
        Vec::new()
    };
    builder.body(Full::new(Bytes::from(body))).unwrap()
}

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn every_bad_request_gets_a_clear_answer_and_harms_no_session() {
    check_table(memory_fixture()).await;
}

/// The same table in front of a tower-mcp router (`TowerMcpService`).
#[tokio::test]
async fn the_tower_mcp_adapter_answers_bad_requests_alike() {
    let layer = mcp_edge_session::SessionLayer::memory().with_executor(|task| {
        tokio::spawn(task);
    });
    let router = tower_mcp_fixture::router();
    check_table(layer.layer(mcp_edge_session::tower_mcp::TowerMcpService::new(router))).await;
}

async fn check_table<S, B>(service: S)
where
    S: tower::Service<Request<Full<Bytes>>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Debug,
{
    let cases: Vec<Case> = serde_json::from_str(include_str!("bad_input.json")).unwrap();
    assert!(cases.len() >= 60, "the table has {} cases", cases.len());
    let send = |request: Request<Full<Bytes>>| service.clone().oneshot(request);
    let response = send(post_request(None, initialize_body(LATEST)))
        .await
        .unwrap();
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let initialized =
        serde_json::json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let response = send(post_request(Some(&session), initialized))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let mut failures = Vec::new();
    for (n, case) in cases
        .iter()
        .enumerate()
        .filter(|(_, case)| !case.worker_only)
    {
        let response = send(request(case, &session)).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let error = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
            v.get("error")
                .and_then(|e| e.get("code"))
                .and_then(Value::as_i64)
        });
        let wanted_json = case.code.is_some();
        if status != StatusCode::from_u16(case.status).unwrap()
            || (error != case.code && (error.is_none() || error != case.or_code))
            || (wanted_json && content_type.as_deref() != Some("application/json"))
        {
            failures.push(format!(
                "{}: expected {} {:?}, got {} {:?} ({:?}): {}",
                case.name,
                case.status,
                case.code,
                status,
                error,
                content_type,
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ));
        }
        // The session opened before still works.
        let id = 1000 + n as u64;
        let call = tool_call(id, "test_simple_text", serde_json::json!({}));
        let response = send(post_request(Some(&session), call)).await.unwrap();
        let answer = first_answer(response, id).await;
        assert!(
            answer.get("result").is_some(),
            "after {}: {answer}",
            case.name
        );
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The response to request `id`, from a JSON or an SSE answer.
async fn first_answer<B>(response: http::Response<B>, id: u64) -> Value
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Debug,
{
    if response.headers()["content-type"] == "application/json" {
        let body = response.into_body().collect().await.unwrap().to_bytes();
        return serde_json::from_slice(&body).unwrap();
    }
    let mut reader = common::sse::SseReader::new(response);
    while let Some((_, message)) = reader.next_message().await {
        if message["id"] == id && message.get("method").is_none() {
            return message;
        }
    }
    panic!("no answer to {id}");
}
