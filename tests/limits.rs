//! Bounded memory for what clients send: one past each limit gets a clear JSON-RPC error with
//! the right status, and other sessions are unharmed.

mod common;

use common::*;
use http::StatusCode;
use mcp_edge_session::{MemoryHub, MemoryStore, SessionLayer};
use serde_json::json;

async fn assert_works(service: &Fixture, session: &str, id: u64) {
    let call = tool_call(id, "test_simple_text", json!({}));
    let answer = answer(send(service, post_request(Some(session), call)).await, id).await;
    assert!(answer.get("result").is_some(), "{answer}");
}

#[tokio::test]
async fn a_full_memory_store_answers_503_and_keeps_its_sessions() {
    let store = MemoryStore::new().with_max_sessions(2);
    let service = fixture(SessionLayer::new(store, MemoryHub::new()));
    let first = initialize(&service, LATEST).await;
    let second = initialize(&service, LATEST).await;
    let response = send(&service, post_request(None, initialize_body(LATEST))).await;
    assert!(response.headers().get("mcp-session-id").is_none());
    assert_rejected(response, StatusCode::SERVICE_UNAVAILABLE, -32003).await;
    assert_works(&service, &first, 1).await;
    assert_works(&service, &second, 2).await;
    // Room again once a session ends.
    send(&service, delete_request(&first)).await;
    initialize(&service, LATEST).await;
}

#[tokio::test]
async fn one_subscription_past_the_limit_is_refused() {
    let service = fixture(SessionLayer::memory().with_max_subscriptions(2));
    let session = initialize(&service, LATEST).await;
    let other = initialize(&service, LATEST).await;
    let subscribe =
        |id: u64, uri: &str| request_body(id, "resources/subscribe", json!({ "uri": uri }));
    for (id, uri) in [(1, "test://a"), (2, "test://b"), (3, "test://a")] {
        let reply = answer(
            send(&service, post_request(Some(&session), subscribe(id, uri))).await,
            id,
        )
        .await;
        assert_eq!(reply["result"], json!({}), "{uri}: {reply}");
    }
    let response = send(
        &service,
        post_request(Some(&session), subscribe(4, "test://c")),
    )
    .await;
    let refusal = assert_rejected(response, StatusCode::BAD_REQUEST, -32602).await;
    assert_eq!(refusal["id"], 4);
    assert_works(&service, &session, 5).await;
    let reply = answer(
        send(
            &service,
            post_request(Some(&other), subscribe(6, "test://c")),
        )
        .await,
        6,
    )
    .await;
    assert_eq!(
        reply["result"],
        json!({}),
        "other sessions keep their own budget"
    );
}

#[tokio::test]
async fn a_client_describing_itself_at_length_is_refused() {
    let service = memory_fixture();
    let session = initialize(&service, LATEST).await;
    let mut body = initialize_body(LATEST);
    body["params"]["clientInfo"]["description"] = json!("x".repeat(20 * 1024));
    let response = send(&service, post_request(None, body)).await;
    assert!(response.headers().get("mcp-session-id").is_none());
    let refusal = assert_rejected(response, StatusCode::BAD_REQUEST, -32602).await;
    assert_eq!(refusal["id"], 0);
    assert_works(&service, &session, 1).await;
}

/// Starts `test_tool_with_logging` (an SSE answer over ~100 ms), reads its priming event and
/// leaves; returns the event id to resume from.
async fn start_and_leave(service: &Fixture, session: &str, id: u64) -> String {
    let call = tool_call(id, "test_tool_with_logging", json!({}));
    let mut stream = sse::SseReader::new(send(service, post_request(Some(session), call)).await);
    let priming = stream.next_event().await.unwrap();
    assert!(priming.is_priming());
    priming.id.unwrap()
}

/// Whether resuming from `after` brings the answer to request `id`.
async fn resumption_answers(service: &Fixture, session: &str, after: &str, id: u64) -> bool {
    let mut stream = sse::SseReader::new(send(service, get_request(session, Some(after))).await);
    stream.timeout = std::time::Duration::from_millis(500);
    while let Some((_, message)) = stream.next_message().await {
        if message["id"] == id {
            return message.get("result").is_some();
        }
    }
    false
}

#[tokio::test]
async fn one_detached_response_past_the_limit_is_cancelled() {
    let layer = SessionLayer::memory()
        .with_executor(|task| {
            tokio::spawn(task);
        })
        .with_max_detached_responses(1);
    let service = fixture(layer);
    let session = initialize(&service, LATEST).await;
    let kept = start_and_leave(&service, &session, 1).await;
    let cancelled = start_and_leave(&service, &session, 2).await;
    assert!(resumption_answers(&service, &session, &kept, 1).await);
    assert!(
        !resumption_answers(&service, &session, &cancelled, 2).await,
        "the response past the limit was cancelled"
    );
    // The finished one freed its slot.
    let later = start_and_leave(&service, &session, 3).await;
    assert!(resumption_answers(&service, &session, &later, 3).await);
    assert_works(&service, &session, 4).await;
}

/// An inner service that answers `initialize` and then, for every other request, starts an
/// SSE event whose data never ends.
fn endless_event_server() -> impl tower::Service<
    http::Request<http_body_util::Full<bytes::Bytes>>,
    Response = http::Response<StreamingBody>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
       + Send {
    use futures_util::StreamExt;
    tower::service_fn(
        |request: http::Request<http_body_util::Full<bytes::Bytes>>| async move {
            use http_body_util::BodyExt;
            let body = request.into_body().collect().await.unwrap().to_bytes();
            let message: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let frame = |text: String| Ok(http_body::Frame::data(bytes::Bytes::from(text)));
            let events = if message["method"] == "initialize" {
                let answer =
                    json!({ "jsonrpc": "2.0", "id": message["id"], "result": initialize_result() });
                futures_util::stream::iter([frame(format!("data: {answer}\n\n"))]).boxed()
            } else {
                let chunk = "x".repeat(64 * 1024);
                futures_util::stream::iter([frame("data: ".into())])
                    .chain(futures_util::stream::repeat_with(move || {
                        frame(chunk.clone())
                    }))
                    .boxed()
            };
            Ok(http::Response::builder()
                .header("content-type", "text/event-stream")
                .body(http_body_util::StreamBody::new(events))
                .unwrap())
        },
    )
}

#[tokio::test]
async fn an_inner_event_past_4_mib_ends_the_stream_with_an_error_for_the_request() {
    use tower::{Layer, ServiceExt};
    let service = SessionLayer::memory().layer(endless_event_server());
    let response = service
        .clone()
        .oneshot(post_request(None, initialize_body(LATEST)))
        .await
        .unwrap();
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let call = tool_call(7, "anything", json!({}));
    let response = service
        .oneshot(post_request(Some(&session), call))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = sse::SseReader::new(response);
    stream.timeout = std::time::Duration::from_secs(10);
    let (_, message) = stream.next_message().await.expect("an error event");
    assert_eq!(message["id"], 7, "{message}");
    assert_eq!(message["error"]["code"], -32603, "{message}");
    assert!(stream.ended().await, "and the stream ends");
}
