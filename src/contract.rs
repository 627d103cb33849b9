//! The backend contract: checks every [`SessionStore`] and [`StreamHub`] implementation must
//! pass, shared by the memory backends and any other (Workers KV, Durable Objects, …).
//!
//! The checks are runtime-agnostic async functions (timeouts come from `futures-timer`), so
//! they run under tokio in `cargo test` and inside a Worker alike:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use mcp_edge_session::{contract, MemoryHub, MemoryStore};
//! contract::check_store(&MemoryStore::new()).await.unwrap();
//! contract::check_hub(&MemoryHub::new()).await.unwrap();
//! # }
//! ```

use std::time::Duration;

use futures_timer::Delay;
use futures_util::future::{select, Either};
use futures_util::{Stream, StreamExt};
use serde_json::json;

use crate::context::{now_ms, LogLevel, SessionId, SessionRecord};
use crate::hub::{
    Audience, Event, EventId, HubError, ListKind, ListenFilter, Message, StreamHub, StreamKey,
};
use crate::store::SessionStore;

/// A contract check that did not hold.
#[derive(Debug, thiserror::Error)]
#[error("contract check `{check}` failed: {reason}")]
pub struct ContractFailure {
    /// The check's name.
    pub check: &'static str,
    /// What went wrong.
    pub reason: String,
}

/// How long a check waits for a message that should arrive.
const ARRIVAL: Duration = Duration::from_secs(2);
/// How long a check waits to be sure a message does not arrive.
const SILENCE: Duration = Duration::from_millis(150);

macro_rules! ensure {
    ($check:expr, $cond:expr, $($reason:tt)+) => {
        if !$cond {
            return Err(ContractFailure { check: $check, reason: format!($($reason)+) });
        }
    };
}

/// Turns a backend error into the failure of the check that met it.
trait OrFail<T> {
    fn or_fail(self, check: &'static str) -> Result<T, ContractFailure>;
}

impl<T, E: std::fmt::Display> OrFail<T> for Result<T, E> {
    fn or_fail(self, check: &'static str) -> Result<T, ContractFailure> {
        self.map_err(|error| ContractFailure {
            check,
            reason: format!("backend error: {error}"),
        })
    }
}

/// The next item of a stream, or `None` after `wait`.
async fn next_within<S: Stream + Unpin>(stream: &mut S, wait: Duration) -> Option<S::Item> {
    match select(stream.next(), Delay::new(wait)).await {
        Either::Left((item, _)) => item,
        Either::Right(_) => None,
    }
}

/// Whether a stream ends within `wait` (items before the end are skipped).
async fn ends_within<S: Stream + Unpin>(stream: &mut S, wait: Duration) -> bool {
    let end = async { while stream.next().await.is_some() {} };
    matches!(
        select(Box::pin(end), Delay::new(wait)).await,
        Either::Left(_)
    )
}

fn record(ttl_ms: u64) -> SessionRecord {
    let mut record = SessionRecord::new(SessionId::generate(), "2025-11-25", now_ms(), ttl_ms);
    record.client_info = Some(json!({ "name": "contract", "version": "1" }));
    record.client_capabilities = json!({ "sampling": {} });
    record
}

/// Runs every store check.
pub async fn check_store(store: &dyn SessionStore) -> Result<(), ContractFailure> {
    const C: &str = "store";
    let original = record(600_000);
    ensure!(
        C,
        store.load(&original.id).await.or_fail(C)?.is_none(),
        "unknown id loads as absent"
    );

    store.create(&original).await.or_fail(C)?;
    let loaded = store.load(&original.id).await.or_fail(C)?;
    ensure!(
        C,
        loaded.as_ref() == Some(&original),
        "create then load round-trips: {loaded:?}"
    );

    // Two changes from requests that loaded the same record: neither undoes the other.
    let mut extended = original.clone();
    extended.expires_at_ms += 60_000;
    store
        .set_log_level(&original, LogLevel::Error)
        .await
        .or_fail(C)?;
    store.extend(&extended).await.or_fail(C)?;
    let loaded = store.load(&original.id).await.or_fail(C)?;
    ensure!(
        C,
        loaded.as_ref().map(|r| (r.log_level, r.expires_at_ms))
            == Some((Some(LogLevel::Error), extended.expires_at_ms)),
        "an extension keeps a log level set from the same loaded record: {loaded:?}"
    );
    let mut stale = original.clone();
    stale.expires_at_ms += 120_000;
    store.extend(&stale).await.or_fail(C)?;
    store
        .set_log_level(&extended, LogLevel::Debug)
        .await
        .or_fail(C)?;
    let loaded = store.load(&original.id).await.or_fail(C)?;
    ensure!(
        C,
        loaded.as_ref().map(|r| (r.log_level, r.expires_at_ms))
            == Some((Some(LogLevel::Debug), stale.expires_at_ms)),
        "a log level set from a record loaded before an extension keeps the extension: {loaded:?}"
    );

    let other = record(600_000);
    store.create(&other).await.or_fail(C)?;
    store.delete(&original.id).await.or_fail(C)?;
    ensure!(
        C,
        store.load(&original.id).await.or_fail(C)?.is_none(),
        "deleted records are absent"
    );
    ensure!(
        C,
        store.load(&other.id).await.or_fail(C)?.is_some(),
        "delete touches only its record"
    );
    store.delete(&original.id).await.or_fail(C)?;
    store.extend(&stale).await.or_fail(C)?;
    store
        .set_log_level(&original, LogLevel::Info)
        .await
        .or_fail(C)?;
    ensure!(
        C,
        store.load(&original.id).await.or_fail(C)?.is_none(),
        "changes that were in flight during a delete do not bring the session back"
    );

    let mut expired = record(600_000);
    expired.expires_at_ms = now_ms().saturating_sub(1);
    store.create(&expired).await.or_fail(C)?;
    ensure!(
        C,
        store.load(&expired.id).await.or_fail(C)?.is_none(),
        "expired records load as absent"
    );
    store.delete(&other.id).await.or_fail(C)?;
    Ok(())
}

fn note(n: u64) -> Message {
    Message::from(
        json!({ "jsonrpc": "2.0", "method": "notifications/message", "params": { "data": n } })
            .to_string(),
    )
}

/// Runs every hub check.
pub async fn check_hub(hub: &dyn StreamHub) -> Result<(), ContractFailure> {
    session_streams(hub).await?;
    replay_and_buffering(hub).await?;
    post_stream_resumption(hub).await?;
    subscriptions_and_listeners(hub).await?;
    client_responses(hub).await?;
    close_session(hub).await
}

async fn session_streams(hub: &dyn StreamHub) -> Result<(), ContractFailure> {
    const C: &str = "session streams";
    let session = SessionId::generate();
    let mut a = hub.open_session_stream(&session, None).await.or_fail(C)?;
    ensure!(
        C,
        a.cursor.stream.is_standalone(),
        "a fresh stream's cursor is on the standalone stream"
    );
    let mut b = hub.open_session_stream(&session, None).await.or_fail(C)?;
    ensure!(
        C,
        ends_within(&mut a.events, ARRIVAL).await,
        "a stream that opens ends the one it replaces"
    );
    for n in 1..=2 {
        hub.publish(&Audience::Session(session.clone()), note(n))
            .await
            .or_fail(C)?;
    }
    let one = next_within(&mut b.events, ARRIVAL).await;
    let two = next_within(&mut b.events, ARRIVAL).await;
    ensure!(
        C,
        one.as_ref().map(|e| e.data.clone()) == Some(note(1))
            && two.as_ref().map(|e| e.data.clone()) == Some(note(2)),
        "messages reach the newest stream, in order: {one:?} {two:?}"
    );
    let (one, two) = (
        one.unwrap_or_else(|| unreachable!()),
        two.unwrap_or_else(|| unreachable!()),
    );
    ensure!(C, one.id != two.id, "event ids are unique");

    // A client whose stream died unnoticed reconnects with the last id it saw: the new stream
    // replaces the dead one and gets what went into it.
    hub.publish(&Audience::Session(session.clone()), note(3))
        .await
        .or_fail(C)?;
    let mut c = hub
        .open_session_stream(&session, Some(&one.id))
        .await
        .or_fail(C)?;
    ensure!(
        C,
        ends_within(&mut b.events, ARRIVAL).await,
        "a resuming stream ends the one it replaces"
    );
    let mut got = Vec::new();
    while let Some(event) = next_within(&mut c.events, SILENCE).await {
        got.push(event.data);
    }
    ensure!(
        C,
        got == vec![note(2), note(3)],
        "the resuming stream gets everything after its id, delivered elsewhere or not: {got:?}"
    );

    let other = SessionId::generate();
    let mut foreign = hub.open_session_stream(&other, None).await.or_fail(C)?;
    hub.publish(&Audience::Session(session.clone()), note(4))
        .await
        .or_fail(C)?;
    ensure!(
        C,
        next_within(&mut foreign.events, SILENCE).await.is_none(),
        "sessions do not see each other's messages"
    );
    hub.close_session(&session).await.or_fail(C)?;
    hub.close_session(&other).await.or_fail(C)?;
    Ok(())
}

async fn replay_and_buffering(hub: &dyn StreamHub) -> Result<(), ContractFailure> {
    const C: &str = "replay and buffering";
    let session = SessionId::generate();
    let mut stream = hub.open_session_stream(&session, None).await.or_fail(C)?;
    hub.publish(&Audience::Session(session.clone()), note(1))
        .await
        .or_fail(C)?;
    let first = next_within(&mut stream.events, ARRIVAL).await;
    ensure!(
        C,
        first.is_some(),
        "a live stream receives a published message"
    );
    let first = first.unwrap_or_else(|| unreachable!());
    drop(stream);

    hub.publish(&Audience::Session(session.clone()), note(2))
        .await
        .or_fail(C)?;
    hub.publish(&Audience::Session(session.clone()), note(3))
        .await
        .or_fail(C)?;
    let mut resumed = hub
        .open_session_stream(&session, Some(&first.id))
        .await
        .or_fail(C)?;
    ensure!(
        C,
        resumed.cursor == first.id,
        "a resumed stream's cursor is the resumption point"
    );
    let two = next_within(&mut resumed.events, ARRIVAL).await;
    let three = next_within(&mut resumed.events, ARRIVAL).await;
    ensure!(
        C,
        two.as_ref().map(|e| e.data.clone()) == Some(note(2))
            && three.as_ref().map(|e| e.data.clone()) == Some(note(3)),
        "replay after an id returns the later events in order: {two:?} {three:?}"
    );
    drop(resumed);

    hub.publish(&Audience::Session(session.clone()), note(4))
        .await
        .or_fail(C)?;
    let mut fresh = hub.open_session_stream(&session, None).await.or_fail(C)?;
    let four = next_within(&mut fresh.events, ARRIVAL).await;
    ensure!(
        C,
        four.map(|e| e.data) == Some(note(4)),
        "what was published while no stream was open is delivered next"
    );
    ensure!(
        C,
        next_within(&mut fresh.events, SILENCE).await.is_none(),
        "delivered messages are not delivered again"
    );
    hub.close_session(&session).await.or_fail(C)?;
    Ok(())
}

async fn post_stream_resumption(hub: &dyn StreamHub) -> Result<(), ContractFailure> {
    const C: &str = "POST stream resumption";
    let session = SessionId::generate();
    let key = StreamKey::new_post();
    let event = |seq: u64| Event {
        id: EventId::new(key.clone(), seq),
        data: note(seq),
    };
    hub.record(&session, event(1)).await.or_fail(C)?;
    hub.record(&session, event(2)).await.or_fail(C)?;
    let mut resumed = hub
        .open_session_stream(&session, Some(&EventId::new(key.clone(), 1)))
        .await
        .or_fail(C)?;
    let two = next_within(&mut resumed.events, ARRIVAL).await;
    ensure!(
        C,
        two == Some(event(2)),
        "replays the stream's events after the id: {two:?}"
    );
    hub.record(&session, event(3)).await.or_fail(C)?;
    let three = next_within(&mut resumed.events, ARRIVAL).await;
    ensure!(
        C,
        three == Some(event(3)),
        "later events of that stream arrive live: {three:?}"
    );
    hub.close_session(&session).await.or_fail(C)?;
    Ok(())
}

async fn subscriptions_and_listeners(hub: &dyn StreamHub) -> Result<(), ContractFailure> {
    const C: &str = "subscriptions and listeners";
    let uri = format!("test://contract/{}", SessionId::generate());
    let (subscribed, bystander) = (SessionId::generate(), SessionId::generate());
    let later = now_ms() + 600_000;
    ensure!(
        C,
        hub.subscribe(&subscribed, &uri, later, 2)
            .await
            .or_fail(C)?,
        "a session below its limit subscribes"
    );
    let mut s = hub
        .open_session_stream(&subscribed, None)
        .await
        .or_fail(C)?;
    let mut b = hub.open_session_stream(&bystander, None).await.or_fail(C)?;
    let filter = ListenFilter {
        resource_uris: [uri.clone()].into(),
        ..ListenFilter::default()
    };
    let mut listener = hub.listen(filter).await.or_fail(C)?;
    let mut tools_listener = hub
        .listen(ListenFilter {
            tools_list_changed: true,
            ..ListenFilter::default()
        })
        .await
        .or_fail(C)?;

    hub.publish(&Audience::ResourceSubscribers(uri.clone()), note(1))
        .await
        .or_fail(C)?;
    ensure!(
        C,
        next_within(&mut s.events, ARRIVAL).await.is_some(),
        "subscribed sessions get resource updates"
    );
    ensure!(
        C,
        next_within(&mut listener, ARRIVAL).await.is_some(),
        "listeners that asked for the URI get it"
    );
    ensure!(
        C,
        next_within(&mut b.events, SILENCE).await.is_none(),
        "others do not"
    );
    ensure!(
        C,
        next_within(&mut tools_listener, SILENCE).await.is_none(),
        "listeners get only what they asked for"
    );

    hub.publish(&Audience::ListChanged(ListKind::Tools), note(2))
        .await
        .or_fail(C)?;
    ensure!(
        C,
        next_within(&mut tools_listener, ARRIVAL).await.is_some(),
        "list changes reach opted-in listeners"
    );
    ensure!(
        C,
        next_within(&mut s.events, ARRIVAL).await.is_some(),
        "list changes reach sessions"
    );
    ensure!(
        C,
        next_within(&mut listener, SILENCE).await.is_none(),
        "list changes skip listeners that did not opt in"
    );
    let streamless = SessionId::generate();
    hub.publish(&Audience::Session(streamless.clone()), note(20))
        .await
        .or_fail(C)?;
    hub.publish(&Audience::ListChanged(ListKind::Tools), note(21))
        .await
        .or_fail(C)?;
    let mut late = hub
        .open_session_stream(&streamless, None)
        .await
        .or_fail(C)?;
    let buffered = next_within(&mut late.events, ARRIVAL).await.map(|e| e.data);
    ensure!(
        C,
        buffered == Some(note(20)) && next_within(&mut late.events, SILENCE).await.is_none(),
        "list changes are not buffered for sessions without a stream (got {buffered:?} first)"
    );
    hub.close_session(&streamless).await.or_fail(C)?;
    while next_within(&mut s.events, SILENCE).await.is_some() {} // the list change above

    hub.unsubscribe(&subscribed, &uri).await.or_fail(C)?;
    hub.publish(&Audience::ResourceSubscribers(uri.clone()), note(3))
        .await
        .or_fail(C)?;
    ensure!(
        C,
        next_within(&mut s.events, SILENCE).await.is_none(),
        "unsubscribed sessions stop getting updates"
    );

    // Subscriptions of an abandoned session lapse with it.
    while next_within(&mut b.events, SILENCE).await.is_some() {} // the list changes above
    hub.subscribe(&bystander, &uri, now_ms() + 600_000, 2)
        .await
        .or_fail(C)?;
    hub.extend_subscriptions(&bystander, now_ms().saturating_sub(1))
        .await
        .or_fail(C)?;
    hub.publish(&Audience::ResourceSubscribers(uri.clone()), note(4))
        .await
        .or_fail(C)?;
    ensure!(
        C,
        next_within(&mut b.events, SILENCE).await.is_none(),
        "lapsed subscriptions get no updates"
    );

    // The limit counts a session's subscriptions, and an extension keeps them all.
    let (first, second, third) = (format!("{uri}/1"), format!("{uri}/2"), format!("{uri}/3"));
    let limited = SessionId::generate();
    let mut l = hub.open_session_stream(&limited, None).await.or_fail(C)?;
    for (uri, expected) in [
        (&first, true),
        (&second, true),
        (&first, true),
        (&third, false),
    ] {
        let subscribed = hub.subscribe(&limited, uri, later, 2).await.or_fail(C)?;
        ensure!(
            C,
            subscribed == expected,
            "subscribing {uri} with limit 2 answers {expected}"
        );
    }
    hub.extend_subscriptions(&limited, later + 60_000)
        .await
        .or_fail(C)?;
    for (uri, n) in [(&first, 5), (&second, 6), (&third, 7)] {
        hub.publish(&Audience::ResourceSubscribers(uri.clone()), note(n))
            .await
            .or_fail(C)?;
    }
    let mut got = Vec::new();
    while let Some(event) = next_within(&mut l.events, SILENCE).await {
        got.push(event.data);
    }
    ensure!(
        C,
        got == vec![note(5), note(6)],
        "a session at its limit keeps what it had and gains nothing: {got:?}"
    );
    hub.close_session(&limited).await.or_fail(C)?;
    hub.close_session(&subscribed).await.or_fail(C)?;
    hub.close_session(&bystander).await.or_fail(C)?;
    Ok(())
}

async fn client_responses(hub: &dyn StreamHub) -> Result<(), ContractFailure> {
    const C: &str = "client responses";
    let session = SessionId::generate();
    let pending = hub
        .expect_response(&session, "\"srv-1\"")
        .await
        .or_fail(C)?;
    let answer = Message::from(r#"{"jsonrpc":"2.0","id":"srv-1","result":{}}"#);
    let unknown = hub
        .deliver_response(&session, "\"srv-2\"", answer.clone())
        .await
        .or_fail(C)?;
    ensure!(C, !unknown, "a response nobody waits for is not delivered");
    let other = SessionId::generate();
    let foreign = hub
        .deliver_response(&other, "\"srv-1\"", answer.clone())
        .await
        .or_fail(C)?;
    ensure!(
        C,
        !foreign,
        "responses are routed within their session only"
    );
    let delivered = hub
        .deliver_response(&session, "\"srv-1\"", answer.clone())
        .await
        .or_fail(C)?;
    ensure!(C, delivered, "the waiting request gets its response");
    let got = match select(pending, Delay::new(ARRIVAL)).await {
        Either::Left((got, _)) => got.ok(),
        Either::Right(_) => None,
    };
    ensure!(
        C,
        got == Some(answer),
        "the pending response resolves to the client's message"
    );
    Ok(())
}

async fn close_session(hub: &dyn StreamHub) -> Result<(), ContractFailure> {
    const C: &str = "close session";
    let session = SessionId::generate();
    let mut stream = hub.open_session_stream(&session, None).await.or_fail(C)?;
    let pending = hub.expect_response(&session, "1").await.or_fail(C)?;
    hub.close_session(&session).await.or_fail(C)?;
    let ended = matches!(
        select(stream.events.next(), Delay::new(ARRIVAL)).await,
        Either::Left((None, _))
    );
    ensure!(C, ended, "closing a session ends its streams");
    let failed = matches!(
        select(pending, Delay::new(ARRIVAL)).await,
        Either::Left((Err(HubError::Closed), _))
    );
    ensure!(
        C,
        failed,
        "closing a session fails the requests waiting on it"
    );
    Ok(())
}
