//! Streams through the hub: the standalone GET stream, replay with `Last-Event-ID`, POST
//! response streams with event ids, SSE polling, and server-to-client requests.

mod common;

use std::time::Duration;

use common::sse::SseReader;
use common::*;
use http::StatusCode;
use mcp_edge_session::{ListKind, SessionLayer};
use serde_json::json;

fn layer_with_notifier() -> (Fixture, mcp_edge_session::Notifier) {
    let layer = SessionLayer::memory().with_keep_alive(Duration::from_secs(60));
    let notifier = layer.notifier();
    (fixture(layer), notifier)
}

#[tokio::test]
async fn get_stream_opens_with_priming_and_delivers_notifications() {
    let (service, notifier) = layer_with_notifier();
    let id = initialize(&service, LATEST).await;
    let response = send(&service, get_request(&id, None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let mut stream = SseReader::new(response);
    let priming = stream.next_event().await.unwrap();
    assert!(priming.is_priming(), "{priming:?}");
    assert_eq!(priming.retry, Some(1000));

    let session = id.parse().unwrap();
    notifier
        .notify_session(
            &session,
            "notifications/message",
            json!({ "level": "info", "data": "hi" }),
        )
        .await
        .unwrap();
    notifier.list_changed(ListKind::Tools).await.unwrap();
    let (first, message) = stream.next_message().await.unwrap();
    assert_eq!(message["params"]["data"], "hi");
    let (second, message) = stream.next_message().await.unwrap();
    assert_eq!(message["method"], "notifications/tools/list_changed");
    let (first, second) = (first.id.unwrap(), second.id.unwrap());
    assert_ne!(first, second);
    assert_ne!(first, priming.id.unwrap());
}

#[tokio::test]
async fn older_sessions_get_no_empty_priming_event() {
    let (service, _) = layer_with_notifier();
    let id = initialize(&service, "2025-06-18").await;
    let mut stream = SseReader::new(send(&service, get_request(&id, None)).await);
    let first = stream.next_block().await.unwrap();
    assert_eq!(first.retry, Some(1000));
    assert_eq!(
        first.data, None,
        "2025-06-18 clients may choke on empty data"
    );
}

#[tokio::test]
async fn subscribed_resource_updates_reach_the_get_stream() {
    let (service, notifier) = layer_with_notifier();
    let id = initialize(&service, LATEST).await;
    let other = initialize(&service, LATEST).await;
    let subscribe = request_body(
        1,
        "resources/subscribe",
        json!({ "uri": "test://watched-resource" }),
    );
    send(&service, post_request(Some(&id), subscribe)).await;
    let mut stream = SseReader::new(send(&service, get_request(&id, None)).await);
    let mut other_stream = SseReader::new(send(&service, get_request(&other, None)).await);
    stream.next_event().await.unwrap();
    other_stream.next_event().await.unwrap();

    // Published from a tool handler through the request's Notifier.
    let touch = tool_call(
        2,
        "touch_resource",
        json!({ "uri": "test://watched-resource" }),
    );
    let result = answer(send(&service, post_request(Some(&other), touch)).await, 2).await;
    assert_ne!(result["result"]["isError"], true, "{result}");
    let (_, message) = stream.next_message().await.unwrap();
    assert_eq!(message["method"], "notifications/resources/updated");
    assert_eq!(message["params"]["uri"], "test://watched-resource");

    other_stream.timeout = Duration::from_millis(200);
    assert!(
        other_stream.next_message().await.is_none(),
        "not subscribed, nothing delivered"
    );
    notifier.resource_updated("test://unrelated").await.unwrap();
    stream.timeout = Duration::from_millis(200);
    assert!(stream.next_message().await.is_none());
}

#[tokio::test]
async fn last_event_id_replays_what_was_missed_including_while_offline() {
    let (service, notifier) = layer_with_notifier();
    let id = initialize(&service, LATEST).await;
    let session = id.parse().unwrap();
    let mut stream = SseReader::new(send(&service, get_request(&id, None)).await);
    stream.next_event().await.unwrap();
    notifier
        .notify_session(&session, "notifications/message", json!({ "data": 1 }))
        .await
        .unwrap();
    let (seen, _) = stream.next_message().await.unwrap();
    drop(stream); // connection lost

    for n in 2..=3 {
        notifier
            .notify_session(&session, "notifications/message", json!({ "data": n }))
            .await
            .unwrap();
    }
    let mut resumed = SseReader::new(
        send(
            &service,
            get_request(&id, Some(seen.id.as_deref().unwrap())),
        )
        .await,
    );
    assert!(resumed.next_event().await.unwrap().is_priming());
    let (_, two) = resumed.next_message().await.unwrap();
    let (_, three) = resumed.next_message().await.unwrap();
    assert_eq!(
        (
            two["params"]["data"].clone(),
            three["params"]["data"].clone()
        ),
        (json!(2), json!(3))
    );

    // A new stream without Last-Event-ID does not get the replayed (already delivered) ones.
    drop(resumed);
    notifier
        .notify_session(&session, "notifications/message", json!({ "data": 4 }))
        .await
        .unwrap();
    let mut fresh = SseReader::new(send(&service, get_request(&id, None)).await);
    fresh.next_event().await.unwrap();
    let (_, four) = fresh.next_message().await.unwrap();
    assert_eq!(
        four["params"]["data"], 4,
        "buffered while offline, delivered on the next stream"
    );
}

#[tokio::test]
async fn malformed_last_event_id_is_400() {
    let (service, _) = layer_with_notifier();
    let id = initialize(&service, LATEST).await;
    assert_rejected(
        send(&service, get_request(&id, Some("nonsense"))).await,
        StatusCode::BAD_REQUEST,
        -32000,
    )
    .await;
}

/// How a client leaves a GET stream behind before it reads a new one.
#[derive(Clone, Copy, Debug)]
enum Abandoned {
    /// A second GET, dropped as soon as its headers arrived.
    SecondAbortedBeforeReading,
    /// A second GET, dropped after its priming event was read.
    SecondAbortedAfterReading,
    /// The first GET stops being read (its connection died unnoticed); the client
    /// reconnects with `Last-Event-ID`.
    FirstSilentlyDead,
}

#[tokio::test]
async fn messages_reach_the_stream_the_client_reads_whatever_it_abandoned() {
    for pattern in [
        Abandoned::SecondAbortedBeforeReading,
        Abandoned::SecondAbortedAfterReading,
        Abandoned::FirstSilentlyDead,
    ] {
        let service = memory_fixture();
        let id = initialize(&service, LATEST).await;
        let other = initialize(&service, LATEST).await;
        let subscribe = request_body(1, "resources/subscribe", json!({ "uri": "test://w" }));
        send(&service, post_request(Some(&id), subscribe)).await;
        let touch = |n| tool_call(n, "touch_resource", json!({ "uri": "test://w" }));

        let mut first = SseReader::new(send(&service, get_request(&id, None)).await);
        let cursor = first.next_event().await.unwrap().id.unwrap();
        match pattern {
            Abandoned::SecondAbortedBeforeReading => {
                drop(send(&service, get_request(&id, None)).await);
            }
            Abandoned::SecondAbortedAfterReading => {
                let mut second = SseReader::new(send(&service, get_request(&id, None)).await);
                assert!(second.next_event().await.unwrap().is_priming());
                drop(second);
            }
            Abandoned::FirstSilentlyDead => {}
        }
        // Published while the client has not yet come back: kept for it.
        answer(
            send(&service, post_request(Some(&other), touch(2))).await,
            2,
        )
        .await;

        if !matches!(pattern, Abandoned::FirstSilentlyDead) {
            let hint = first.next_block().await.unwrap();
            assert_eq!(
                hint.retry,
                Some(250),
                "{pattern:?}: told to come back at once"
            );
            assert!(first.ended().await, "{pattern:?}: the replaced stream ends");
        }
        let mut resumed = SseReader::new(send(&service, get_request(&id, Some(&cursor))).await);
        if matches!(pattern, Abandoned::FirstSilentlyDead) {
            // What went into it before is unread; then it ends.
            while first.next_block().await.is_some() {}
            assert!(
                first.ended().await,
                "{pattern:?}: the dead stream is replaced"
            );
        }
        answer(
            send(&service, post_request(Some(&other), touch(3))).await,
            3,
        )
        .await;

        let mut updates = Vec::new();
        resumed.timeout = Duration::from_millis(300);
        while let Some((event, message)) = resumed.next_message().await {
            assert_eq!(message["method"], "notifications/resources/updated");
            updates.push(event.id.unwrap());
        }
        assert_eq!(
            updates.len(),
            2,
            "{pattern:?}: both updates, once each: {updates:?}"
        );
        assert_ne!(updates[0], updates[1]);
    }
}

#[tokio::test]
async fn keep_alive_comments_flow_on_idle_streams() {
    let service = fixture(SessionLayer::memory().with_keep_alive(Duration::from_millis(50)));
    let id = initialize(&service, LATEST).await;
    let mut stream = SseReader::new(send(&service, get_request(&id, None)).await);
    assert!(stream.next_block().await.unwrap().is_priming());
    let block = stream.next_block().await.unwrap();
    assert!(block.is_comment_only(), "{block:?}");
}

#[tokio::test]
async fn post_streams_get_priming_and_session_unique_event_ids() {
    let (service, _) = layer_with_notifier();
    let id = initialize(&service, LATEST).await;
    let set_level = request_body(1, "logging/setLevel", json!({ "level": "debug" }));
    send(&service, post_request(Some(&id), set_level)).await;

    let mut ids = Vec::new();
    for call in 2..=3 {
        let response = send(
            &service,
            post_request(
                Some(&id),
                tool_call(call, "test_tool_with_logging", json!({})),
            ),
        )
        .await;
        let mut stream = SseReader::new(response);
        let priming = stream.next_event().await.unwrap();
        assert!(priming.is_priming());
        assert!(priming.retry.is_some());
        let mut logs = 0;
        loop {
            let (event, message) = stream.next_message().await.unwrap();
            ids.push(event.id.clone().expect("every event has an id"));
            if message["method"] == "notifications/message" {
                logs += 1;
            } else {
                assert_eq!(message["id"], call);
                break;
            }
        }
        assert_eq!(logs, 3);
        assert!(stream.ended().await);
    }
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
}

#[tokio::test]
async fn log_level_filters_tool_logging() {
    let (service, _) = layer_with_notifier();
    let id = initialize(&service, LATEST).await;
    send(
        &service,
        post_request(
            Some(&id),
            request_body(1, "logging/setLevel", json!({ "level": "error" })),
        ),
    )
    .await;
    let mut stream = SseReader::new(
        send(
            &service,
            post_request(Some(&id), tool_call(2, "test_tool_with_logging", json!({}))),
        )
        .await,
    );
    let (_, message) = stream.next_message().await.unwrap();
    assert_eq!(message["id"], 2, "info logs are below the session's level");
}

#[tokio::test]
async fn polling_closes_the_post_stream_and_resumes_on_get() {
    let (service, _) = layer_with_notifier();
    let id = initialize(&service, LATEST).await;
    // The SDK's standalone GET stream is usually open meanwhile; resumption must not conflict.
    let mut standalone = SseReader::new(send(&service, get_request(&id, None)).await);
    standalone.next_event().await.unwrap();

    let mut post = SseReader::new(
        send(
            &service,
            post_request(Some(&id), tool_call(1, "test_reconnection", json!({}))),
        )
        .await,
    );
    let priming = post.next_event().await.unwrap();
    assert!(priming.is_priming());
    assert!(priming.retry.is_some());
    assert!(
        post.ended().await,
        "the handler closed the stream before answering"
    );

    let mut resumed = SseReader::new(send(&service, get_request(&id, priming.id.as_deref())).await);
    let (event, message) = resumed.next_message().await.unwrap();
    assert_eq!(message["id"], 1);
    assert!(message["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("reconnected"));
    assert!(event
        .id
        .unwrap()
        .starts_with(priming.id.unwrap().split('.').next().unwrap()));
    standalone.timeout = Duration::from_millis(100);
    assert!(
        standalone.next_message().await.is_none(),
        "the result went to the resumed stream only"
    );
}

#[tokio::test]
async fn disconnect_is_not_cancellation_in_the_legacy_era() {
    let (service, _) = layer_with_notifier();
    let id = initialize(&service, LATEST).await;
    let mut post = SseReader::new(
        send(
            &service,
            post_request(
                Some(&id),
                tool_call(1, "test_tool_with_progress", json!({ "_meta": {} })),
            ),
        )
        .await,
    );
    let priming = post.next_event().await.unwrap();
    drop(post); // client went away after the priming event
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut resumed = SseReader::new(send(&service, get_request(&id, priming.id.as_deref())).await);
    let (_, message) = resumed.next_message().await.unwrap();
    assert_eq!(
        message["id"], 1,
        "the response was finished and kept for the client"
    );
}

#[tokio::test]
async fn server_to_client_requests_are_routed_back_through_the_hub() {
    let (service, _) = layer_with_notifier();
    let id = initialize(&service, LATEST).await;
    let call = tool_call(1, "test_sampling", json!({ "prompt": "Say hi" }));
    let mut stream = SseReader::new(send(&service, post_request(Some(&id), call)).await);
    assert!(stream.next_event().await.unwrap().is_priming());
    let (_, request) = stream.next_message().await.unwrap();
    assert_eq!(request["method"], "sampling/createMessage");
    assert_eq!(
        request["params"]["messages"][0]["content"]["text"],
        "Say hi"
    );

    let reply = json!({ "jsonrpc": "2.0", "id": request["id"], "result": {
        "role": "assistant", "content": { "type": "text", "text": "hi!" }, "model": "m" } });
    let response = send(&service, post_request(Some(&id), reply)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let (_, result) = stream.next_message().await.unwrap();
    assert_eq!(result["id"], 1);
    assert_eq!(result["result"]["content"][0]["text"], "LLM response: hi!");
}

#[tokio::test]
async fn client_errors_to_server_requests_reach_the_handler() {
    let (service, _) = layer_with_notifier();
    let id = initialize(&service, LATEST).await;
    let call = tool_call(1, "test_elicitation", json!({ "message": "Name?" }));
    let mut stream = SseReader::new(send(&service, post_request(Some(&id), call)).await);
    let (_, request) = stream.next_message().await.unwrap();
    assert_eq!(request["method"], "elicitation/create");
    let reply = json!({ "jsonrpc": "2.0", "id": request["id"], "error": { "code": -1, "message": "user said no" } });
    send(&service, post_request(Some(&id), reply)).await;
    let (_, result) = stream.next_message().await.unwrap();
    assert_eq!(result["result"]["isError"], true);
    assert!(result["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("user said no"));
}

#[tokio::test]
async fn notifier_request_goes_out_on_the_get_stream() {
    let (service, notifier) = layer_with_notifier();
    let id = initialize(&service, LATEST).await;
    let session: mcp_edge_session::SessionId = id.parse().unwrap();
    let mut stream = SseReader::new(send(&service, get_request(&id, None)).await);
    stream.next_event().await.unwrap();
    let asking =
        tokio::spawn(async move { notifier.request(&session, "roots/list", json!({})).await });
    let (_, request) = stream.next_message().await.unwrap();
    assert_eq!(request["method"], "roots/list");
    let reply = json!({ "jsonrpc": "2.0", "id": request["id"], "result": { "roots": [] } });
    send(&service, post_request(Some(&id), reply)).await;
    let answer = asking.await.unwrap().unwrap();
    assert_eq!(answer, json!({ "roots": [] }));
}

#[tokio::test]
async fn events_sent_just_before_a_disconnect_are_kept_for_resumption() {
    let (service, _) = layer_with_notifier();
    let id = initialize(&service, LATEST).await;
    send(
        &service,
        post_request(
            Some(&id),
            request_body(1, "logging/setLevel", json!({ "level": "info" })),
        ),
    )
    .await;
    let call = tool_call(2, "test_tool_with_logging", json!({}));
    let mut post = SseReader::new(send(&service, post_request(Some(&id), call)).await);
    let priming = post.next_event().await.unwrap();
    let (first, _) = post.next_message().await.unwrap();
    // The connection breaks: the client may never have seen `first`.
    drop(post);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut resumed = SseReader::new(send(&service, get_request(&id, priming.id.as_deref())).await);
    let mut ids = Vec::new();
    loop {
        let (event, message) = resumed
            .next_message()
            .await
            .expect("the rest of the response");
        ids.push(event.id.unwrap());
        if message["id"] == 2 {
            break;
        }
    }
    assert_eq!(
        ids.first(),
        first.id.as_ref(),
        "the event sent before the break is replayed"
    );
    assert_eq!(ids.len(), 4, "three log messages and the result: {ids:?}");
}

#[tokio::test]
async fn priming_cursor_precedes_buffered_events() {
    let (service, notifier) = layer_with_notifier();
    let id = initialize(&service, LATEST).await;
    let session = id.parse().unwrap();
    for n in 1..=2 {
        notifier
            .notify_session(&session, "notifications/message", json!({ "data": n }))
            .await
            .unwrap();
    }
    let mut stream = SseReader::new(send(&service, get_request(&id, None)).await);
    let priming = stream.next_event().await.unwrap();
    drop(stream); // broke right after the priming event, before the buffered messages
    let mut resumed = SseReader::new(send(&service, get_request(&id, priming.id.as_deref())).await);
    resumed.next_event().await.unwrap();
    let (_, one) = resumed.next_message().await.unwrap();
    let (_, two) = resumed.next_message().await.unwrap();
    assert_eq!(
        (one["params"]["data"].clone(), two["params"]["data"].clone()),
        (json!(1), json!(2))
    );
}

#[tokio::test]
async fn subscriptions_lapse_with_their_session_and_extend_with_it() {
    let ttl = Duration::from_millis(400);
    let layer = SessionLayer::memory()
        .with_idle_timeout(ttl)
        .with_keep_alive(Duration::from_secs(60));
    let notifier = layer.notifier();
    let service = fixture(layer);
    let kept = initialize(&service, LATEST).await;
    let abandoned = initialize(&service, LATEST).await;
    for id in [&kept, &abandoned] {
        let subscribe = request_body(
            1,
            "resources/subscribe",
            json!({ "uri": "test://watched-resource" }),
        );
        send(&service, post_request(Some(id), subscribe)).await;
    }
    let mut kept_stream = SseReader::new(send(&service, get_request(&kept, None)).await);
    let mut abandoned_stream = SseReader::new(send(&service, get_request(&abandoned, None)).await);
    kept_stream.next_event().await.unwrap();
    abandoned_stream.next_event().await.unwrap();

    // Past half its life the kept session is used, which extends it and its subscriptions.
    tokio::time::sleep(Duration::from_millis(250)).await;
    send(
        &service,
        post_request(Some(&kept), request_body(2, "ping", json!({}))),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(250)).await;

    notifier
        .resource_updated("test://watched-resource")
        .await
        .unwrap();
    let (_, update) = kept_stream.next_message().await.unwrap();
    assert_eq!(update["method"], "notifications/resources/updated");
    abandoned_stream.timeout = Duration::from_millis(200);
    assert!(
        abandoned_stream.next_message().await.is_none(),
        "the abandoned session's subscription lapsed"
    );
}
