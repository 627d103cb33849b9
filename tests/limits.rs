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
