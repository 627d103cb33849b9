//! The legacy, sessionful era through `tower::ServiceExt::oneshot`: handshake, session checks,
//! layer-owned methods, and the refusals the layer answers itself.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::backends::{CountingHub, CountingStore, FailingHub, FailingStore};
use common::*;
use http::{Request, StatusCode};
use http_body_util::Full;
use mcp_edge_session::{LogLevel, SessionId, SessionLayer, SessionStore};
use serde_json::{json, Value};

#[tokio::test]
async fn initialize_mints_a_session_and_stores_one_record() {
    let store = CountingStore::default();
    let service = fixture(SessionLayer::new(
        store.clone(),
        mcp_edge_session::MemoryHub::new(),
    ));
    let response = send(&service, post_request(None, initialize_body("2025-06-18"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let body = json_body(response).await;
    assert_eq!(body["result"]["protocolVersion"], "2025-06-18");

    let record = store
        .inner
        .load(&id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.protocol_version, "2025-06-18");
    assert_eq!(record.client_info.as_ref().unwrap()["name"], "test-client");
    assert!(record.client_capabilities.get("sampling").is_some());
    assert_eq!(record.log_level, None);
    assert!(record.expires_at_ms > record.created_at_ms);
    assert_eq!((store.counts.reads(), store.counts.writes()), (0, 1));

    // Every initialize gets a fresh, unpredictable id.
    let again = send(&service, post_request(None, initialize_body(LATEST))).await;
    assert_ne!(again.headers()["mcp-session-id"].to_str().unwrap(), id);
}

#[tokio::test]
async fn failed_initialize_creates_no_session() {
    let store = CountingStore::default();
    let inner = json_server(
        |message| json!({ "jsonrpc": "2.0", "id": message["id"], "error": { "code": -32602, "message": "Unsupported protocol version" } }),
    );
    let service = tower::Layer::layer(
        &SessionLayer::new(store.clone(), mcp_edge_session::MemoryHub::new()),
        inner,
    );
    let request = post_request(None, initialize_body("1999-01-01"));
    let response = tower::ServiceExt::oneshot(service, request).await.unwrap();
    assert!(!response.headers().contains_key("mcp-session-id"));
    assert!(store.inner.is_empty());
    assert_eq!(store.counts.writes(), 0);
}

#[tokio::test]
async fn store_failure_at_initialize_is_503_without_a_session_id() {
    let service = fixture(SessionLayer::new(
        FailingStore,
        mcp_edge_session::MemoryHub::new(),
    ));
    let response = send(&service, post_request(None, initialize_body(LATEST))).await;
    assert!(!response.headers().contains_key("mcp-session-id"));
    let body = assert_rejected(response, StatusCode::SERVICE_UNAVAILABLE, -32003).await;
    assert_eq!(body["id"], 0);
}

#[tokio::test]
async fn missing_session_id_is_400_unknown_is_404() {
    let service = memory_fixture();
    let list = request_body(1, "tools/list", json!({}));
    assert_rejected(
        send(&service, post_request(None, list.clone())).await,
        StatusCode::BAD_REQUEST,
        -32000,
    )
    .await;
    let unknown = SessionId::generate().to_string();
    assert_rejected(
        send(&service, post_request(Some(&unknown), list.clone())).await,
        StatusCode::NOT_FOUND,
        -32001,
    )
    .await;
    assert_rejected(
        send(
            &service,
            post_request(Some("not visible ascii ✗"), list.clone()),
        )
        .await,
        StatusCode::NOT_FOUND,
        -32001,
    )
    .await;
    assert_rejected(
        send(&service, post_request(Some(&"x".repeat(200)), list)).await,
        StatusCode::NOT_FOUND,
        -32001,
    )
    .await;
}

#[tokio::test]
async fn delete_ends_the_session_and_later_requests_get_404() {
    let service = memory_fixture();
    let id = initialize(&service, LATEST).await;
    let mut stream = common::sse::SseReader::new(send(&service, get_request(&id, None)).await);
    assert!(stream.next_event().await.unwrap().is_priming());

    let response = send(&service, delete_request(&id)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(stream.ended().await, "DELETE closes the session's streams");

    let list = request_body(1, "tools/list", json!({}));
    assert_rejected(
        send(&service, post_request(Some(&id), list)).await,
        StatusCode::NOT_FOUND,
        -32001,
    )
    .await;
    assert_rejected(
        send(&service, get_request(&id, None)).await,
        StatusCode::NOT_FOUND,
        -32001,
    )
    .await;
    assert_rejected(
        send(&service, delete_request(&id)).await,
        StatusCode::NOT_FOUND,
        -32001,
    )
    .await;
}

#[tokio::test]
async fn expired_sessions_are_unknown() {
    let service =
        fixture(SessionLayer::memory().with_idle_timeout(std::time::Duration::from_millis(30)));
    let id = initialize(&service, LATEST).await;
    tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    let list = request_body(1, "tools/list", json!({}));
    assert_rejected(
        send(&service, post_request(Some(&id), list)).await,
        StatusCode::NOT_FOUND,
        -32001,
    )
    .await;
}

#[tokio::test]
async fn protocol_version_header_is_validated() {
    let service = memory_fixture();
    let id = initialize(&service, LATEST).await;
    let list = request_body(1, "tools/list", json!({}));
    let with_version = |version: &str| {
        let mut request = post_request(Some(&id), list.clone());
        request
            .headers_mut()
            .insert("mcp-protocol-version", version.parse().unwrap());
        request
    };
    let body = assert_rejected(
        send(&service, with_version("1999-12-31")).await,
        StatusCode::BAD_REQUEST,
        -32000,
    )
    .await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("1999-12-31"));
    // Older versions this server supports are accepted (the conformance suite sends them).
    assert_eq!(
        send(&service, with_version("2025-03-26")).await.status(),
        StatusCode::OK
    );
    // Absent means 2025-03-26.
    let mut request = post_request(Some(&id), list.clone());
    request.headers_mut().remove("mcp-protocol-version");
    assert_eq!(send(&service, request).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn accept_and_content_type_are_checked() {
    let service = memory_fixture();
    let mut request = post_request(None, initialize_body(LATEST));
    request
        .headers_mut()
        .insert("accept", "application/json".parse().unwrap());
    assert_rejected(
        send(&service, request).await,
        StatusCode::NOT_ACCEPTABLE,
        -32000,
    )
    .await;

    let mut request = post_request(None, initialize_body(LATEST));
    request
        .headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    assert_rejected(
        send(&service, request).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        -32000,
    )
    .await;

    let id = initialize(&service, LATEST).await;
    let mut get = get_request(&id, None);
    get.headers_mut()
        .insert("accept", "application/json".parse().unwrap());
    assert_rejected(
        send(&service, get).await,
        StatusCode::NOT_ACCEPTABLE,
        -32000,
    )
    .await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let service = fixture(SessionLayer::memory().with_max_body_bytes(1024));
    let id = initialize(&service, LATEST).await;
    let big = tool_call(
        1,
        "test_simple_text",
        json!({ "padding": "x".repeat(2048) }),
    );
    let request = post_request(Some(&id), big.clone());
    assert_rejected(
        send(&service, request).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        -32000,
    )
    .await;

    // Without a Content-Length the limit applies while reading.
    let chunks = futures_util::stream::iter(
        big.to_string()
            .into_bytes()
            .chunks(100)
            .map(|c| {
                Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::copy_from_slice(c)))
            })
            .collect::<Vec<_>>(),
    );
    let request = post(Some(&id))
        .body(http_body_util::StreamBody::new(chunks))
        .unwrap();
    let response = tower::ServiceExt::oneshot(service.clone(), request)
        .await
        .unwrap();
    assert_rejected(response, StatusCode::PAYLOAD_TOO_LARGE, -32000).await;
}

#[tokio::test]
async fn malformed_json_rpc_is_400() {
    let service = memory_fixture();
    let id = initialize(&service, LATEST).await;
    let raw = |body: &'static str| post(Some(&id)).body(Full::new(Bytes::from(body))).unwrap();
    assert_rejected(
        send(&service, raw("{not json")).await,
        StatusCode::BAD_REQUEST,
        -32700,
    )
    .await;
    assert_rejected(
        send(&service, raw(r#"{"id":1,"method":"ping"}"#)).await,
        StatusCode::BAD_REQUEST,
        -32600,
    )
    .await;
    assert_rejected(
        send(&service, raw(r#"{"jsonrpc":"2.0","id":1}"#)).await,
        StatusCode::BAD_REQUEST,
        -32600,
    )
    .await;
    assert_rejected(
        send(&service, raw("[]")).await,
        StatusCode::BAD_REQUEST,
        -32600,
    )
    .await;
    // The session is unharmed.
    let ok = send(
        &service,
        post_request(Some(&id), request_body(2, "ping", json!({}))),
    )
    .await;
    assert_eq!(answer(ok, 2).await["result"], json!({}));
}

#[tokio::test]
async fn batches_only_in_2025_03_26() {
    let service = memory_fixture();
    let batch = json!([
        request_body(1, "ping", json!({})),
        request_body(2, "tools/list", json!({}))
    ]);
    let modern = initialize(&service, LATEST).await;
    assert_rejected(
        send(&service, post_request(Some(&modern), batch.clone())).await,
        StatusCode::BAD_REQUEST,
        -32600,
    )
    .await;

    let old = initialize(&service, "2025-03-26").await;
    let mut request = post_request(Some(&old), batch);
    request.headers_mut().remove("mcp-protocol-version");
    let response = send(&service, request).await;
    assert!(
        response.status().is_success(),
        "a 2025-03-26 batch reaches the inner service"
    );

    // initialize inside a batch is refused.
    let init_batch = json!([initialize_body("2025-03-26")]);
    assert_rejected(
        send(&service, post_request(None, init_batch)).await,
        StatusCode::BAD_REQUEST,
        -32600,
    )
    .await;
}

#[tokio::test]
async fn set_level_is_recorded_and_answered_when_the_inner_service_lacks_it() {
    let store = CountingStore::default();
    let service = fixture(SessionLayer::new(
        store.clone(),
        mcp_edge_session::MemoryHub::new(),
    ));
    let id = initialize(&service, LATEST).await;
    let response = send(
        &service,
        post_request(
            Some(&id),
            request_body(1, "logging/setLevel", json!({ "level": "warning" })),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(answer(response, 1).await["result"], json!({}));
    let record = store
        .inner
        .load(&id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.log_level, Some(LogLevel::Warning));

    let bad = request_body(2, "logging/setLevel", json!({ "level": "loud" }));
    let body = assert_rejected(
        send(&service, post_request(Some(&id), bad)).await,
        StatusCode::BAD_REQUEST,
        -32602,
    )
    .await;
    assert_eq!(body["id"], 2);
    let record = store
        .inner
        .load(&id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.log_level,
        Some(LogLevel::Warning),
        "a refused request changes nothing"
    );
}

#[tokio::test]
async fn set_level_passes_through_an_inner_answer() {
    let store = Arc::new(mcp_edge_session::MemoryStore::new());
    let inner = json_server(|message| {
        let result = match message["method"].as_str() {
            Some("initialize") => initialize_result(),
            _ => json!({ "_meta": { "seen": true } }),
        };
        json!({ "jsonrpc": "2.0", "id": message["id"], "result": result })
    });
    let layer =
        SessionLayer::from_shared(store.clone(), Arc::new(mcp_edge_session::MemoryHub::new()));
    let service = tower::Layer::layer(&layer, inner);
    let response =
        tower::ServiceExt::oneshot(service.clone(), post_request(None, initialize_body(LATEST)))
            .await
            .unwrap();
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let request = post_request(
        Some(&id),
        request_body(1, "logging/setLevel", json!({ "level": "debug" })),
    );
    let response = tower::ServiceExt::oneshot(service, request).await.unwrap();
    let body: Value = serde_json::from_slice(
        &http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes(),
    )
    .unwrap();
    assert_eq!(body["result"]["_meta"]["seen"], true);
    let record = store.load(&id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(record.log_level, Some(LogLevel::Debug));
}

#[tokio::test]
async fn subscriptions_are_one_hub_call_and_no_store_write() {
    let store = CountingStore::default();
    let hub = CountingHub::default();
    let service = fixture(SessionLayer::new(store.clone(), hub.clone()));
    let id = initialize(&service, LATEST).await;
    let (writes, calls) = (store.counts.writes(), hub.calls());
    let subscribe = request_body(
        1,
        "resources/subscribe",
        json!({ "uri": "test://watched-resource" }),
    );
    assert_eq!(
        answer(send(&service, post_request(Some(&id), subscribe)).await, 1).await["result"],
        json!({})
    );
    assert_eq!((store.counts.writes(), hub.calls()), (writes, calls + 1));

    let unsubscribe = request_body(
        2,
        "resources/unsubscribe",
        json!({ "uri": "test://watched-resource" }),
    );
    assert_eq!(
        answer(
            send(&service, post_request(Some(&id), unsubscribe)).await,
            2
        )
        .await["result"],
        json!({})
    );
    assert_eq!((store.counts.writes(), hub.calls()), (writes, calls + 2));

    let bad = request_body(3, "resources/subscribe", json!({ "url": "oops" }));
    assert_rejected(
        send(&service, post_request(Some(&id), bad)).await,
        StatusCode::BAD_REQUEST,
        -32602,
    )
    .await;
}

#[tokio::test]
async fn context_reaches_the_inner_service() {
    let service = memory_fixture();
    let id = initialize(&service, LATEST).await;
    let response = send(
        &service,
        post_request(Some(&id), tool_call(1, "whoami", json!({}))),
    )
    .await;
    let body = answer(response, 1).await;
    let info: Value =
        serde_json::from_str(body["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(info, json!({ "name": "test-client", "version": "1.2.3" }));
}

#[tokio::test]
async fn steady_post_costs_one_store_read_and_never_touches_the_hub() {
    let store = CountingStore::default();
    let hub = CountingHub::default();
    let service = fixture(SessionLayer::new(store.clone(), hub.clone()));
    let id = initialize(&service, LATEST).await;
    let (reads, writes, hub_calls) = (store.counts.reads(), store.counts.writes(), hub.calls());

    for n in 1..=5 {
        let response = send(
            &service,
            post_request(Some(&id), tool_call(n, "test_simple_text", json!({}))),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        body_bytes(response).await;
    }
    assert_eq!(store.counts.reads() - reads, 5, "one read per POST");
    assert_eq!(
        store.counts.writes() - writes,
        0,
        "no write while the session is fresh"
    );
    assert_eq!(
        hub.calls() - hub_calls,
        0,
        "plain POSTs never touch the hub"
    );
}

#[tokio::test]
async fn sessions_are_refreshed_only_past_half_their_life() {
    let store = CountingStore::default();
    let ttl = std::time::Duration::from_millis(400);
    let service = fixture(
        SessionLayer::new(store.clone(), mcp_edge_session::MemoryHub::new()).with_idle_timeout(ttl),
    );
    let id = initialize(&service, LATEST).await;
    let writes = store.counts.writes();
    send(
        &service,
        post_request(Some(&id), request_body(1, "ping", json!({}))),
    )
    .await;
    assert_eq!(store.counts.writes(), writes);
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    send(
        &service,
        post_request(Some(&id), request_body(2, "ping", json!({}))),
    )
    .await;
    assert_eq!(
        store.counts.writes(),
        writes + 1,
        "refreshed once past half"
    );
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    // Still alive: the refresh moved the expiry.
    let response = send(
        &service,
        post_request(Some(&id), request_body(3, "ping", json!({}))),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn store_failure_is_503_and_hub_failure_spares_plain_posts() {
    let service = fixture(SessionLayer::new(
        FailingStore,
        mcp_edge_session::MemoryHub::new(),
    ));
    let list = request_body(1, "tools/list", json!({}));
    let unknown = SessionId::generate().to_string();
    assert_rejected(
        send(&service, post_request(Some(&unknown), list.clone())).await,
        StatusCode::SERVICE_UNAVAILABLE,
        -32003,
    )
    .await;

    let service = fixture(SessionLayer::new(
        mcp_edge_session::MemoryStore::new(),
        FailingHub,
    ));
    let id = initialize(&service, LATEST).await;
    let response = send(&service, post_request(Some(&id), list)).await;
    assert!(
        answer(response, 1).await["result"]["tools"]
            .as_array()
            .map_or(0, Vec::len)
            > 5
    );
    assert_rejected(
        send(&service, get_request(&id, None)).await,
        StatusCode::SERVICE_UNAVAILABLE,
        -32003,
    )
    .await;
    let subscribe = request_body(
        2,
        "resources/subscribe",
        json!({ "uri": "test://watched-resource" }),
    );
    assert_rejected(
        send(&service, post_request(Some(&id), subscribe)).await,
        StatusCode::SERVICE_UNAVAILABLE,
        -32003,
    )
    .await;
    // DELETE still ends the session even though its streams could not be told.
    assert_eq!(
        send(&service, delete_request(&id)).await.status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn dns_rebinding_is_refused() {
    let service = memory_fixture();
    let mut request = post_request(None, initialize_body(LATEST));
    request
        .headers_mut()
        .insert("host", "evil.example.com".parse().unwrap());
    assert_rejected(send(&service, request).await, StatusCode::FORBIDDEN, -32000).await;

    let mut request = post_request(None, initialize_body(LATEST));
    request
        .headers_mut()
        .insert("origin", "http://evil.example.com".parse().unwrap());
    assert_rejected(send(&service, request).await, StatusCode::FORBIDDEN, -32000).await;

    let mut request = post_request(None, initialize_body(LATEST));
    request
        .headers_mut()
        .insert("origin", "http://localhost:8080".parse().unwrap());
    assert_eq!(send(&service, request).await.status(), StatusCode::OK);

    let deployed = fixture(SessionLayer::memory().with_allowed_hosts(["mcp.example.com"]));
    let mut request = post_request(None, initialize_body(LATEST));
    request
        .headers_mut()
        .insert("host", "mcp.example.com".parse().unwrap());
    assert_eq!(send(&deployed, request).await.status(), StatusCode::OK);
    assert_eq!(
        send(&deployed, post_request(None, initialize_body(LATEST)))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn sessions_bound_to_a_principal_are_invisible_to_others() {
    let layer = SessionLayer::memory().with_principal(|parts| {
        parts
            .headers
            .get("x-user")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    let service = fixture(layer);
    let mut request = post_request(None, initialize_body(LATEST));
    request
        .headers_mut()
        .insert("x-user", "alice".parse().unwrap());
    let id = send(&service, request).await.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let list = request_body(1, "tools/list", json!({}));
    let as_user = |user: Option<&str>| {
        let mut request = post_request(Some(&id), list.clone());
        if let Some(user) = user {
            request
                .headers_mut()
                .insert("x-user", user.parse().unwrap());
        }
        request
    };
    assert_eq!(
        send(&service, as_user(Some("alice"))).await.status(),
        StatusCode::OK
    );
    assert_rejected(
        send(&service, as_user(Some("mallory"))).await,
        StatusCode::NOT_FOUND,
        -32001,
    )
    .await;
    assert_rejected(
        send(&service, as_user(None)).await,
        StatusCode::NOT_FOUND,
        -32001,
    )
    .await;
    let mut delete = delete_request(&id);
    delete
        .headers_mut()
        .insert("x-user", "mallory".parse().unwrap());
    assert_rejected(send(&service, delete).await, StatusCode::NOT_FOUND, -32001).await;
}

#[tokio::test]
async fn other_methods_are_405() {
    let service = memory_fixture();
    let request = Request::put("http://localhost/mcp")
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = send(&service, request).await;
    assert_eq!(response.headers()["allow"], "GET, POST, DELETE");
    assert_rejected(response, StatusCode::METHOD_NOT_ALLOWED, -32000).await;
}

#[tokio::test]
async fn notifications_and_responses_get_202() {
    let service = memory_fixture();
    let id = initialize(&service, LATEST).await;
    let cancelled = json!({ "jsonrpc": "2.0", "method": "notifications/cancelled", "params": { "requestId": 9 } });
    let response = send(&service, post_request(Some(&id), cancelled)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(body_bytes(response).await.is_empty());
    let stray = json!({ "jsonrpc": "2.0", "id": "srv-unknown", "result": {} });
    assert_eq!(
        send(&service, post_request(Some(&id), stray))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn accepted_notifications_are_202_without_a_body() {
    // An inner service that answers everything with 200 and a body.
    let inner = json_server(
        |message| json!({ "jsonrpc": "2.0", "id": message["id"], "result": initialize_result() }),
    );
    let service = tower::Layer::layer(&SessionLayer::memory(), inner);
    let response =
        tower::ServiceExt::oneshot(service.clone(), post_request(None, initialize_body(LATEST)))
            .await
            .unwrap();
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let response = tower::ServiceExt::oneshot(service, post_request(Some(&id), initialized))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(body.is_empty());
}

/// An inner service that answers every request with an SSE stream holding the answer and then
/// staying open, as a server that streams by default might.
fn open_stream_server() -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = http::Response<StreamingBody>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
       + Send {
    use futures_util::StreamExt;
    tower::service_fn(|request: Request<Full<Bytes>>| async move {
        use http_body_util::BodyExt;
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let message: Value = serde_json::from_slice(&body).unwrap();
        let result = match message["method"].as_str() {
            Some("initialize") => initialize_result(),
            _ => json!({}),
        };
        let answer = json!({ "jsonrpc": "2.0", "id": message["id"], "result": result });
        let event = Bytes::from(format!("event: message\ndata: {answer}\n\n"));
        let events = futures_util::stream::iter([Ok(http_body::Frame::data(event))])
            .chain(futures_util::stream::pending())
            .boxed();
        Ok(http::Response::builder()
            .header("content-type", "text/event-stream")
            .body(http_body_util::StreamBody::new(events))
            .unwrap())
    })
}

#[tokio::test]
async fn an_answer_on_a_stream_that_stays_open_is_read_up_to_the_answer() {
    use tower::{Layer, ServiceExt};
    let service = SessionLayer::memory().layer(open_stream_server());
    let initialize = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        service
            .clone()
            .oneshot(post_request(None, initialize_body(LATEST))),
    )
    .await
    .expect("initialize does not wait for the stream to end")
    .unwrap();
    assert_eq!(initialize.status(), StatusCode::OK);
    let id = initialize.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let set_level = request_body(1, "logging/setLevel", json!({ "level": "error" }));
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        service.clone().oneshot(post_request(Some(&id), set_level)),
    )
    .await
    .expect("setLevel does not wait for the stream to end")
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains(r#""id":1"#) && text.contains(r#""result":{}"#),
        "{text}"
    );
}
