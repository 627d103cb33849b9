//! The Redis backends against a real `redis-server`: the backend contract, and two "processes"
//! (two connections, as two servers behind a load balancer would have) sharing sessions and
//! streams.

mod common;

use std::time::Duration;

use common::redis_server::RedisServer;
use common::*;
use futures_util::StreamExt;
use mcp_edge_session::hub::{Audience, Message};
use mcp_edge_session::redis::connect;
use mcp_edge_session::{contract, SessionId, SessionLayer, StreamHub};
use serde_json::json;

fn prefix() -> String {
    format!("test-{}:", SessionId::generate())
}

#[tokio::test]
async fn redis_backends_meet_the_contract() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (store, hub) = connect(&server.url, &prefix()).await.unwrap();
    contract::check_store(&store).await.unwrap();
    contract::check_hub(&hub).await.unwrap();
}

async fn next_within<S: futures_util::Stream + Unpin>(s: &mut S, ms: u64) -> Option<S::Item> {
    tokio::time::timeout(Duration::from_millis(ms), s.next())
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn two_processes_share_streams_and_answers() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = prefix();
    let (_, a) = connect(&server.url, &prefix).await.unwrap();
    let (_, b) = connect(&server.url, &prefix).await.unwrap();
    let session = SessionId::generate();
    let note = |n: u64| Message::from(json!({ "n": n }).to_string());

    // A stream held by A hears what B publishes.
    let mut on_a = a.open_session_stream(&session, None).await.unwrap();
    b.publish(&Audience::Session(session.clone()), note(1))
        .await
        .unwrap();
    let first = next_within(&mut on_a.events, 2000)
        .await
        .expect("A hears B");
    assert_eq!(first.data, note(1));

    // A stream opened on B replaces A's, which ends; B resumes what A missed.
    a.publish(&Audience::Session(session.clone()), note(2))
        .await
        .unwrap();
    let mut on_b = b
        .open_session_stream(&session, Some(&first.id))
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(2), async {
        while on_a.events.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "A's stream ends when B's replaces it");
    let second = next_within(&mut on_b.events, 2000).await.expect("replayed");
    assert_eq!(second.data, note(2));
    a.publish(&Audience::Session(session.clone()), note(3))
        .await
        .unwrap();
    let third = next_within(&mut on_b.events, 2000)
        .await
        .expect("live on B");
    assert_eq!(third.data, note(3));
    assert!(
        next_within(&mut on_b.events, 200).await.is_none(),
        "once each"
    );

    // A request waiting on A is answered by a response POSTed to B.
    let pending = a.expect_response(&session, "7").await.unwrap();
    assert!(b.deliver_response(&session, "7", note(7)).await.unwrap());
    assert_eq!(pending.await.unwrap(), note(7));
    assert!(!b.deliver_response(&session, "8", note(8)).await.unwrap());

    // Closing on A ends B's stream.
    a.close_session(&session).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(2), async {
        while on_b.events.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "closing ends streams held elsewhere");
}

#[tokio::test]
async fn a_session_made_on_one_process_works_on_the_other() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = fixture(SessionLayer::redis(&server.url).await.unwrap());
    let b = fixture(SessionLayer::redis(&server.url).await.unwrap());
    let session = initialize(&a, LATEST).await;
    let call = tool_call(1, "whoami", json!({}));
    let answer = answer(send(&b, post_request(Some(&session), call)).await, 1).await;
    assert!(answer.get("result").is_some(), "{answer}");
    let response = send(&a, delete_request(&session)).await;
    assert_eq!(response.status(), http::StatusCode::NO_CONTENT);
    let call = tool_call(2, "whoami", json!({}));
    assert_rejected(
        send(&b, post_request(Some(&session), call)).await,
        http::StatusCode::NOT_FOUND,
        -32001,
    )
    .await;
}

#[tokio::test]
async fn an_outage_answers_503_ends_streams_and_loses_nothing() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let service = fixture(SessionLayer::redis(&server.url).await.unwrap());
    let session = initialize(&service, LATEST).await;
    let subscribe = request_body(1, "resources/subscribe", json!({ "uri": "test://outage" }));
    send(&service, post_request(Some(&session), subscribe)).await;
    let mut stream = sse::SseReader::new(send(&service, get_request(&session, None)).await);
    let cursor = stream.next_event().await.unwrap().id.unwrap();
    // Published while the stream was open, then the stream is cut by the outage.
    let touch = |id| tool_call(id, "touch_resource", json!({ "uri": "test://outage" }));
    answer(
        send(&service, post_request(Some(&session), touch(2))).await,
        2,
    )
    .await;
    stream.next_message().await.expect("the update, live");

    server.stop();
    let started = std::time::Instant::now();
    assert_rejected(
        send(
            &service,
            post_request(Some(&session), tool_call(3, "test_simple_text", json!({}))),
        )
        .await,
        http::StatusCode::SERVICE_UNAVAILABLE,
        -32003,
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "503 comes within seconds"
    );
    while stream.next_block().await.is_some() {}
    assert!(
        stream.ended().await,
        "open streams end so their clients resume"
    );

    server.resume();
    let mut served = false;
    for _ in 0..50 {
        let call = tool_call(4, "test_simple_text", json!({}));
        let response = send(&service, post_request(Some(&session), call)).await;
        if response.status() == http::StatusCode::OK {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(served, "the same process serves again once Redis is back");
    let mut resumed =
        sse::SseReader::new(send(&service, get_request(&session, Some(&cursor))).await);
    let (_, replayed) = resumed
        .next_message()
        .await
        .expect("replayed after the outage");
    assert_eq!(replayed["method"], "notifications/resources/updated");
    answer(
        send(&service, post_request(Some(&session), touch(5))).await,
        5,
    )
    .await;
    let (_, live) = resumed.next_message().await.expect("live again");
    assert_eq!(live["params"]["uri"], "test://outage");
}
