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
    let server = RedisServer::start();
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
    let server = RedisServer::start();
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
    let server = RedisServer::start();
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
