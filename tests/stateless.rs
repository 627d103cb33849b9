//! The stateless era (2026-07-28) through `tower::ServiceExt::oneshot`: context from `_meta`,
//! header/body agreement, no sessions, and `subscriptions/listen`.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::backends::{CountingHub, CountingStore};
use common::sse::SseReader;
use common::*;
use http::{Request, StatusCode};
use http_body_util::Full;
use mcp_edge_session::{ListKind, SessionLayer};
use serde_json::{json, Value};

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "stateless-client", "version": "2.0.0" },
    })
}

/// A stateless request with matching headers; `params` gets the `_meta`.
fn stateless(id: u64, method: &str, mut params: Value) -> Request<Full<Bytes>> {
    params["_meta"] = meta();
    let name = match method {
        "tools/call" | "prompts/get" => params["name"].as_str().map(str::to_owned),
        "resources/read" => params["uri"].as_str().map(str::to_owned),
        _ => None,
    };
    let builder = Request::post("http://localhost/mcp")
        .header("host", "localhost")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", STATELESS)
        .header("mcp-method", method);
    let builder = match name {
        Some(name) => builder.header("mcp-name", name),
        None => builder,
    };
    builder
        .body(Full::new(Bytes::from(
            request_body(id, method, params).to_string(),
        )))
        .unwrap()
}

#[tokio::test]
async fn discover_and_calls_carry_their_own_context_and_touch_no_store() {
    let store = CountingStore::default();
    let hub = CountingHub::default();
    let service = fixture(SessionLayer::new(store.clone(), hub.clone()));

    let response = send(&service, stateless(1, "server/discover", json!({}))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!response.headers().contains_key("mcp-session-id"));
    let body = answer(response, 1).await;
    assert!(body["result"]["supportedVersions"]
        .as_array()
        .unwrap()
        .contains(&json!(STATELESS)));

    let response = send(
        &service,
        stateless(
            2,
            "tools/call",
            json!({ "name": "whoami", "arguments": {} }),
        ),
    )
    .await;
    let body = answer(response, 2).await;
    let info: Value =
        serde_json::from_str(body["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(info["name"], "stateless-client");
    assert_eq!(body["result"]["resultType"], "complete");

    assert_eq!((store.counts.reads(), store.counts.writes()), (0, 0));
    assert_eq!(hub.calls(), 0);
}

#[tokio::test]
async fn session_ids_are_ignored_and_never_minted() {
    let store = CountingStore::default();
    let service = fixture(SessionLayer::new(
        store.clone(),
        mcp_edge_session::MemoryHub::new(),
    ));
    let mut request = stateless(1, "tools/list", json!({}));
    request
        .headers_mut()
        .insert("mcp-session-id", "stale-session".parse().unwrap());
    request
        .headers_mut()
        .insert("last-event-id", "42".parse().unwrap());
    let response = send(&service, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!response.headers().contains_key("mcp-session-id"));
    assert_eq!(store.counts.reads(), 0);
}

#[tokio::test]
async fn headers_must_match_the_body() {
    let service = memory_fixture();
    let call = || {
        stateless(
            1,
            "tools/call",
            json!({ "name": "test_simple_text", "arguments": {} }),
        )
    };

    let mut request = call();
    request
        .headers_mut()
        .insert("mcp-name", "other_tool".parse().unwrap());
    let body = assert_rejected(
        send(&service, request).await,
        StatusCode::BAD_REQUEST,
        -32020,
    )
    .await;
    assert_eq!(body["id"], 1);

    let mut request = call();
    request.headers_mut().remove("mcp-name");
    assert_rejected(
        send(&service, request).await,
        StatusCode::BAD_REQUEST,
        -32020,
    )
    .await;

    let mut request = call();
    request
        .headers_mut()
        .insert("mcp-method", "tools/list".parse().unwrap());
    assert_rejected(
        send(&service, request).await,
        StatusCode::BAD_REQUEST,
        -32020,
    )
    .await;

    let mut request = call();
    request
        .headers_mut()
        .insert("mcp-method", "TOOLS/CALL".parse().unwrap());
    assert_rejected(
        send(&service, request).await,
        StatusCode::BAD_REQUEST,
        -32020,
    )
    .await;

    // Names that are not plain ASCII travel base64-encoded; whitespace around values is fine.
    let mut request = call();
    request.headers_mut().insert(
        "mcp-name",
        "=?base64?dGVzdF9zaW1wbGVfdGV4dA==?=".parse().unwrap(),
    );
    assert_eq!(send(&service, request).await.status(), StatusCode::OK);
    let mut request = call();
    request
        .headers_mut()
        .insert("mcp-name", "  test_simple_text ".parse().unwrap());
    assert_eq!(send(&service, request).await.status(), StatusCode::OK);

    // A name header on a method that names nothing.
    let mut request = stateless(2, "tools/list", json!({}));
    request
        .headers_mut()
        .insert("mcp-name", "x".parse().unwrap());
    assert_rejected(
        send(&service, request).await,
        StatusCode::BAD_REQUEST,
        -32020,
    )
    .await;
}

#[tokio::test]
async fn protocol_version_must_match_and_be_supported() {
    let service = memory_fixture();
    let mut request = stateless(1, "tools/list", json!({}));
    request.headers_mut().remove("mcp-protocol-version");
    assert_rejected(
        send(&service, request).await,
        StatusCode::BAD_REQUEST,
        -32020,
    )
    .await;

    let mut request = stateless(1, "tools/list", json!({}));
    request
        .headers_mut()
        .insert("mcp-protocol-version", "2027-01-01".parse().unwrap());
    assert_rejected(
        send(&service, request).await,
        StatusCode::BAD_REQUEST,
        -32020,
    )
    .await;

    let mut params = json!({});
    params["_meta"] = meta();
    params["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2027-01-01");
    let request = Request::post("http://localhost/mcp")
        .header("host", "localhost")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2027-01-01")
        .header("mcp-method", "tools/list")
        .body(Full::new(Bytes::from(
            request_body(1, "tools/list", params).to_string(),
        )))
        .unwrap();
    let body = assert_rejected(
        send(&service, request).await,
        StatusCode::BAD_REQUEST,
        -32022,
    )
    .await;
    assert_eq!(body["error"]["data"]["requested"], "2027-01-01");
    assert!(body["error"]["data"]["supported"]
        .as_array()
        .unwrap()
        .contains(&json!(STATELESS)));
}

#[tokio::test]
async fn required_meta_fields_are_enforced() {
    let service = memory_fixture();
    let request = |meta: Value| {
        Request::post("http://localhost/mcp")
            .header("host", "localhost")
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-protocol-version", STATELESS)
            .header("mcp-method", "tools/list")
            .body(Full::new(Bytes::from(
                request_body(1, "tools/list", json!({ "_meta": meta })).to_string(),
            )))
            .unwrap()
    };
    let no_caps = json!({ "io.modelcontextprotocol/protocolVersion": STATELESS });
    assert_rejected(
        send(&service, request(no_caps)).await,
        StatusCode::BAD_REQUEST,
        -32602,
    )
    .await;
    let no_version = json!({ "io.modelcontextprotocol/clientCapabilities": {} });
    assert_rejected(
        send(&service, request(no_version)).await,
        StatusCode::BAD_REQUEST,
        -32602,
    )
    .await;
    let bad_level = json!({ "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/logLevel": "chatty" });
    assert_rejected(
        send(&service, request(bad_level)).await,
        StatusCode::BAD_REQUEST,
        -32602,
    )
    .await;
}

#[tokio::test]
async fn log_level_comes_from_meta() {
    let service = memory_fixture();
    let call = json!({ "name": "test_tool_with_logging", "arguments": {} });
    // Without a logLevel the server must not log: the answer is all there is.
    let mut stream = SseReader::new(send(&service, stateless(1, "tools/call", call.clone())).await);
    let (_, message) = stream.next_message().await.unwrap();
    assert_eq!(
        message["id"], 1,
        "no log message before the answer: {message}"
    );

    let mut request = stateless(2, "tools/call", call);
    let mut body: Value = serde_json::from_slice(
        &http_body_util::BodyExt::collect(request.body_mut())
            .await
            .unwrap()
            .to_bytes(),
    )
    .unwrap();
    body["params"]["_meta"]["io.modelcontextprotocol/logLevel"] = json!("debug");
    *request.body_mut() = Full::new(Bytes::from(body.to_string()));
    let mut stream = SseReader::new(send(&service, request).await);
    let (_, message) = stream.next_message().await.unwrap();
    assert_eq!(message["method"], "notifications/message");
}

#[tokio::test]
async fn get_and_delete_are_405() {
    let service = memory_fixture();
    for method in [http::Method::GET, http::Method::DELETE] {
        let request = Request::builder()
            .method(method)
            .uri("http://localhost/mcp")
            .header("host", "localhost")
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", STATELESS)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = send(&service, request).await;
        assert_eq!(response.headers()["allow"], "POST");
        assert_rejected(response, StatusCode::METHOD_NOT_ALLOWED, -32000).await;
    }
}

#[tokio::test]
async fn unknown_methods_are_404() {
    let service = memory_fixture();
    let response = send(&service, stateless(1, "nope/nothing", json!({}))).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_body(response).await["error"]["code"], -32601);
}

#[tokio::test]
async fn listen_acknowledges_then_delivers_only_what_was_asked_for() {
    let layer = SessionLayer::memory().with_keep_alive(Duration::from_secs(60));
    let notifier = layer.notifier();
    let service = fixture(layer);
    let listen = stateless(
        7,
        "subscriptions/listen",
        json!({ "notifications": {
        "toolsListChanged": true, "resourceSubscriptions": ["test://watched-resource"] } }),
    );
    let response = send(&service, listen).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = SseReader::new(response);
    let (_, ack) = stream.next_message().await.unwrap();
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        7
    );
    assert_eq!(ack["params"]["notifications"]["toolsListChanged"], true);
    assert_eq!(
        ack["params"]["notifications"]["resourceSubscriptions"],
        json!(["test://watched-resource"])
    );
    assert!(ack["params"]["notifications"]
        .get("promptsListChanged")
        .is_none());

    notifier.list_changed(ListKind::Prompts).await.unwrap(); // not asked for
    notifier.resource_updated("test://other").await.unwrap(); // not asked for
    let touch =
        json!({ "name": "touch_resource", "arguments": { "uri": "test://watched-resource" } });
    answer(send(&service, stateless(8, "tools/call", touch)).await, 8).await;
    notifier.list_changed(ListKind::Tools).await.unwrap();

    let (_, updated) = stream.next_message().await.unwrap();
    assert_eq!(updated["method"], "notifications/resources/updated");
    assert_eq!(updated["params"]["uri"], "test://watched-resource");
    assert_eq!(
        updated["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        7
    );
    let (_, tools) = stream.next_message().await.unwrap();
    assert_eq!(tools["method"], "notifications/tools/list_changed");
    assert_eq!(
        tools["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        7
    );
    stream.timeout = Duration::from_millis(150);
    assert!(stream.next_message().await.is_none());
}

#[tokio::test]
async fn legacy_subscribers_and_stateless_listeners_share_resource_updates() {
    let layer = SessionLayer::memory().with_keep_alive(Duration::from_secs(60));
    let notifier = layer.notifier();
    let service = fixture(layer);
    let id = initialize(&service, LATEST).await;
    send(
        &service,
        post_request(
            Some(&id),
            request_body(
                1,
                "resources/subscribe",
                json!({ "uri": "test://watched-resource" }),
            ),
        ),
    )
    .await;
    let mut legacy = SseReader::new(send(&service, get_request(&id, None)).await);
    legacy.next_event().await.unwrap();
    let listen = stateless(
        3,
        "subscriptions/listen",
        json!({ "notifications": { "resourceSubscriptions": ["test://watched-resource"] } }),
    );
    let mut listener = SseReader::new(send(&service, listen).await);
    listener.next_message().await.unwrap();

    notifier
        .resource_updated("test://watched-resource")
        .await
        .unwrap();
    assert_eq!(
        legacy.next_message().await.unwrap().1["params"]["uri"],
        "test://watched-resource"
    );
    assert_eq!(
        listener.next_message().await.unwrap().1["params"]["uri"],
        "test://watched-resource"
    );
}

#[tokio::test]
async fn listen_fails_cleanly_when_the_hub_is_down() {
    let service = fixture(SessionLayer::new(
        mcp_edge_session::MemoryStore::new(),
        common::backends::FailingHub,
    ));
    let listen = stateless(
        1,
        "subscriptions/listen",
        json!({ "notifications": { "toolsListChanged": true } }),
    );
    assert_rejected(
        send(&service, listen).await,
        StatusCode::SERVICE_UNAVAILABLE,
        -32003,
    )
    .await;
    // Plain stateless calls are unaffected.
    assert_eq!(
        send(&service, stateless(2, "tools/list", json!({})))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn initialize_selects_the_legacy_era_on_a_dual_era_server() {
    let service = memory_fixture();
    let mut request = post_request(None, initialize_body(LATEST));
    request.headers_mut().remove("mcp-protocol-version");
    let response = send(&service, request).await;
    assert!(response.headers().contains_key("mcp-session-id"));
    assert_eq!(
        json_body(response).await["result"]["protocolVersion"],
        LATEST
    );
}

#[tokio::test]
async fn batches_and_responses_are_refused() {
    let service = memory_fixture();
    let mut request = stateless(1, "tools/list", json!({}));
    let body = json!([request_body(1, "tools/list", json!({ "_meta": meta() }))]);
    *request.body_mut() = Full::new(Bytes::from(body.to_string()));
    assert_rejected(
        send(&service, request).await,
        StatusCode::BAD_REQUEST,
        -32600,
    )
    .await;
}

/// An inner server that answers every request with the method it was asked for.
fn method_echo() -> mcp_edge_session::SessionService<
    impl tower::Service<
            Request<Full<Bytes>>,
            Response = http::Response<Full<Bytes>>,
            Error = std::convert::Infallible,
            Future = impl Send,
        > + Clone
        + Send,
> {
    use tower::Layer;
    SessionLayer::memory().layer(json_server(|message| {
        json!({ "jsonrpc": "2.0", "id": message["id"], "result": { "method": message["method"] } })
    }))
}

#[tokio::test]
async fn extension_methods_and_their_name_headers_reach_the_inner_server() {
    use tower::ServiceExt;
    let service = method_echo();
    let with_name = |method: &str, params: Value, name: &str| {
        let mut request = stateless(1, method, params);
        request
            .headers_mut()
            .insert("mcp-name", name.parse().unwrap());
        request
    };
    // The tasks extension names the task in Mcp-Name; the inner server answers (or says it
    // has no such extension, -32021, or no such task, -32602: its call, not the layer's).
    for method in ["tasks/get", "tasks/update", "tasks/cancel"] {
        let request = with_name(method, json!({ "taskId": "t-1" }), "t-1");
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        let body = json_body_of(response).await;
        assert_eq!(body["result"]["method"], method);
        // Without the header too: whether the extension needs it is the server's to say.
        let response = service
            .clone()
            .oneshot(stateless(2, method, json!({ "taskId": "t-1" })))
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{method} without Mcp-Name"
        );
    }
    // A header that contradicts the body is refused as for the spec's own methods.
    let mismatched = with_name("tasks/get", json!({ "taskId": "t-1" }), "t-2");
    let response = service.clone().oneshot(mismatched).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_body_of(response).await["error"]["code"], -32020);
    // A method the layer does not know at all passes with whatever it names.
    let unknown = with_name("x-vendor/frobnicate", json!({ "thing": 1 }), "thing-1");
    let response = service.clone().oneshot(unknown).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_body_of(response).await["result"]["method"],
        "x-vendor/frobnicate"
    );
}

async fn json_body_of<B>(response: http::Response<B>) -> Value
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    use http_body_util::BodyExt;
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}
