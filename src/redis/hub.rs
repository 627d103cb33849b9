//! [`RedisHub`]: streams shared by every process that connects to one Redis.
//!
//! Redis keeps what must survive a process: each session's event log (a list, bounded and
//! expiring), its last sequence number, which process holds which of its streams (the newest
//! stream of a key is its holder, see [`crate::hub::routing`]), who waits for which client
//! response, and the subscription index. Live delivery is pub/sub: every process subscribes to
//! its own channel (notes for the streams and requests it holds) and to one broadcast channel.
//! What the log keeps and replays follows [`crate::hub::log`].

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use futures_channel::{mpsc, oneshot};
use futures_util::{stream, StreamExt};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, PushInfo, PushKind};
use serde::{Deserialize, Serialize};

use super::keys::Keys;
use super::scripts;
use crate::context::{now_ms, SessionId};
use crate::hub::log::{self, LogLimits, LoggedEvent};
use crate::hub::{
    routing, Audience, Event, EventId, HubError, ListKind, ListenFilter, Message, MessageStream,
    PendingResponse, SessionStream, StreamHub, StreamKey,
};

/// What the Redis hub keeps of each session's log.
const LIMITS: LogLimits = LogLimits {
    capacity: 256,
    max_age_ms: 10 * 60 * 1000,
};

/// How many sessions a broadcast publishes to at once.
const PUBLISH_CONCURRENCY: usize = 64;

/// Messages queued per open stream before it is ended (its client resumes from the log).
const STREAM_BUFFER: usize = 64;

/// How long a stream's holding lasts unless its process renews it (a process that dies leaves
/// nothing behind for longer), and how often a live process renews its streams'.
const HOLDING_MS: u64 = 5 * 60 * 1000;
const RENEW_EVERY: Duration = Duration::from_secs(60);

/// A stream hub in Redis. Cloning shares the connection and this process's streams.
#[derive(Clone)]
pub struct RedisHub {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHub")
            .field("prefix", &self.shared.keys.prefix())
            .field("process", &self.shared.process)
            .finish_non_exhaustive()
    }
}

struct Shared {
    connection: ConnectionManager,
    keys: Keys,
    /// This process's name on its channel.
    process: String,
    local: Mutex<Local>,
}

/// The streams, listeners and waiting requests of this process.
#[derive(Default)]
struct Local {
    streams: HashMap<(SessionId, StreamKey), LocalStream>,
    listeners: Vec<Listener>,
    waiting: HashMap<(SessionId, String), oneshot::Sender<Message>>,
    next_token: u64,
}

struct LocalStream {
    token: u64,
    sender: mpsc::Sender<Event>,
}

struct Listener {
    filter: ListenFilter,
    sender: mpsc::Sender<Message>,
}

/// A note on a process channel, after the `<token> ` that names the stream it is for (`-`
/// when it is for no stream).
#[derive(Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Note {
    Event {
        session: SessionId,
        event: Event,
    },
    Replaced {
        session: SessionId,
        stream: StreamKey,
    },
    Answer {
        session: SessionId,
        request_id: String,
        data: Message,
    },
}

/// A message on the broadcast channel.
#[derive(Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Broadcast {
    Resource { uri: String, data: Message },
    List { kind: ListKind, data: Message },
    Closed { session: SessionId },
}

fn unavailable(error: redis::RedisError) -> HubError {
    HubError::Unavailable {
        message: format!("Redis: {error}"),
        source: Some(Box::new(error)),
    }
}

fn encode<T: Serialize>(value: &T) -> Result<String, HubError> {
    serde_json::to_string(value).map_err(|e| HubError::unavailable(e.to_string()))
}

impl RedisHub {
    /// A hub over a connection manager whose pushes (RESP3) go to `pushes`; subscribes this
    /// process to its channels and starts the tasks that dispatch and renew.
    pub(crate) async fn start(
        connection: ConnectionManager,
        keys: Keys,
        pushes: tokio::sync::mpsc::UnboundedReceiver<PushInfo>,
    ) -> Result<Self, redis::RedisError> {
        let process = uuid::Uuid::new_v4().simple().to_string();
        let shared = Arc::new(Shared {
            connection,
            keys,
            process,
            local: Mutex::default(),
        });
        let mut subscriber = shared.connection.clone();
        subscriber
            .subscribe(shared.keys.process_channel(&shared.process))
            .await?;
        subscriber
            .subscribe(shared.keys.broadcast_channel())
            .await?;
        tokio::spawn(dispatch(Arc::downgrade(&shared), pushes));
        tokio::spawn(renew(Arc::downgrade(&shared)));
        Ok(Self { shared })
    }
}

impl Shared {
    fn local(&self) -> MutexGuard<'_, Local> {
        // Each critical section is one map operation: a panic cannot leave it half-done.
        self.local.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn holder(&self, token: u64) -> String {
        format!("{} {token}", self.process)
    }

    /// Logs a session event and hands it to the process holding its stream.
    async fn append(&self, session: &SessionId, event: Event) -> Result<(), HubError> {
        let at_ms = now_ms();
        let entry = |delivered| {
            encode(&LoggedEvent {
                event: event.clone(),
                at_ms,
                delivered,
            })
        };
        let note = encode(&Note::Event {
            session: session.clone(),
            event: event.clone(),
        })?;
        let mut connection = self.connection.clone();
        scripts::APPEND
            .key(self.keys.log(session))
            .key(self.keys.holders(session))
            .arg(event.id.stream.as_str())
            .arg(entry(true)?)
            .arg(entry(false)?)
            .arg(note)
            .arg(LIMITS.capacity)
            .arg(LIMITS.max_age_ms)
            .arg(self.keys.process_channel(""))
            .invoke_async::<i64>(&mut connection)
            .await
            .map(drop)
            .map_err(unavailable)
    }

    /// Publishes a message on a session's standalone stream.
    async fn publish_to_session(&self, session: &SessionId, data: Message) -> Result<(), HubError> {
        let mut connection = self.connection.clone();
        let seq: u64 = scripts::NEXT_SEQ
            .key(self.keys.seq(session))
            .arg(log::initial_seq(now_ms()))
            .arg(LIMITS.max_age_ms)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        let id = EventId::new(StreamKey::standalone(), seq);
        self.append(session, Event { id, data }).await
    }

    /// Publishes a message to many sessions, many at a time (the connection pipelines them).
    /// One session's failure does not keep the message from the others; the first is returned.
    async fn publish_to_sessions(
        &self,
        sessions: impl IntoIterator<Item = SessionId>,
        data: &Message,
    ) -> Result<(), HubError> {
        let mut failed = None;
        let mut results = stream::iter(sessions)
            .map(|session| async move { self.publish_to_session(&session, data.clone()).await })
            .buffer_unordered(PUBLISH_CONCURRENCY);
        while let Some(result) = results.next().await {
            if let Err(error) = result {
                failed.get_or_insert(error);
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Handles one note for this process.
    fn on_note(self: &Arc<Self>, payload: &str) {
        let Some((token, note)) = payload.split_once(' ') else {
            return;
        };
        let Ok(note) = serde_json::from_str::<Note>(note) else {
            return;
        };
        let mut local = self.local();
        match note {
            Note::Event { session, event } => {
                let key = (session, event.id.stream.clone());
                let Some(stream) = local.streams.get_mut(&key) else {
                    return;
                };
                let accepted =
                    token.parse() == Ok(stream.token) && stream.sender.try_send(event).is_ok();
                if !accepted && token.parse() == Ok(stream.token) {
                    // Too far behind or gone: end it; the client resumes from the log.
                    local.streams.remove(&key);
                }
            }
            Note::Replaced { session, stream } => {
                let key = (session, stream);
                if local
                    .streams
                    .get(&key)
                    .is_some_and(|s| token.parse() == Ok(s.token))
                {
                    local.streams.remove(&key);
                }
            }
            Note::Answer {
                session,
                request_id,
                data,
            } => {
                if let Some(waiting) = local.waiting.remove(&(session, request_id)) {
                    let _ = waiting.send(data);
                }
            }
        }
    }

    /// Handles one broadcast.
    fn on_broadcast(self: &Arc<Self>, payload: &str) {
        let Ok(broadcast) = serde_json::from_str::<Broadcast>(payload) else {
            return;
        };
        let mut local = self.local();
        let (audience, data) = match broadcast {
            Broadcast::Closed { session } => {
                // Dropping the senders ends the streams and fails the waiting requests.
                local.streams.retain(|(id, _), _| *id != session);
                local.waiting.retain(|(id, _), _| *id != session);
                return;
            }
            Broadcast::Resource { uri, data } => (Audience::ResourceSubscribers(uri), data),
            Broadcast::List { kind, data } => (Audience::ListChanged(kind), data),
        };
        local.listeners.retain_mut(|listener| {
            !listener.filter.admits(&audience) || listener.sender.try_send(data.clone()).is_ok()
        });
        if !matches!(audience, Audience::ListChanged(_)) {
            return;
        }
        // List changes reach the sessions whose standalone stream this process holds; each
        // gets it logged like any session message.
        let sessions: BTreeSet<SessionId> = local
            .streams
            .keys()
            .filter(|(_, key)| routing::list_change_reaches(key))
            .map(|(session, _)| session.clone())
            .collect();
        drop(local);
        let shared = self.clone();
        tokio::spawn(async move {
            if let Err(error) = shared.publish_to_sessions(sessions, &data).await {
                tracing::warn!(%error, "a list change did not reach every session");
            }
        });
    }

    /// The connection to Redis dropped: this process's streams, listeners and waiting requests
    /// end (clients resume with `Last-Event-ID` once Redis is back).
    fn on_disconnect(&self) {
        let mut local = self.local();
        local.streams.clear();
        local.listeners.clear();
        local.waiting.clear();
    }
}

/// Routes what Redis pushes to this process's streams, listeners and requests.
async fn dispatch(
    shared: Weak<Shared>,
    mut pushes: tokio::sync::mpsc::UnboundedReceiver<PushInfo>,
) {
    while let Some(push) = pushes.recv().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match push.kind {
            PushKind::Message => {
                let [channel, payload] = push.data.as_slice() else {
                    continue;
                };
                let (Ok(channel), Ok(payload)) = (
                    redis::from_redis_value_ref::<String>(channel),
                    redis::from_redis_value_ref::<String>(payload),
                ) else {
                    continue;
                };
                if channel == shared.keys.broadcast_channel() {
                    shared.on_broadcast(&payload);
                } else {
                    shared.on_note(&payload);
                }
            }
            PushKind::Disconnection => shared.on_disconnect(),
            _ => {}
        }
    }
}

/// Renews the holdings of this process's streams while it lives.
async fn renew(shared: Weak<Shared>) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let held: Vec<(SessionId, StreamKey, u64)> = shared
            .local()
            .streams
            .iter()
            .map(|((session, key), stream)| (session.clone(), key.clone(), stream.token))
            .collect();
        let mut connection = shared.connection.clone();
        for (session, key, token) in held {
            let renewed = scripts::HOLD
                .key(shared.keys.holders(&session))
                .arg(key.as_str())
                .arg(shared.holder(token))
                .arg(HOLDING_MS)
                .invoke_async::<i64>(&mut connection)
                .await;
            if let Err(error) = renewed {
                tracing::warn!(%error, "could not renew a stream's holding");
            }
        }
    }
}

/// A session stream of this process; when it ends, it gives up its holding.
struct Held {
    shared: Arc<Shared>,
    session: SessionId,
    key: StreamKey,
    token: u64,
}

impl Drop for Held {
    fn drop(&mut self) {
        {
            let mut local = self.shared.local();
            let entry = (self.session.clone(), self.key.clone());
            if local
                .streams
                .get(&entry)
                .is_some_and(|s| s.token == self.token)
            {
                local.streams.remove(&entry);
            }
        }
        let (shared, session, key, holder) = (
            self.shared.clone(),
            self.session.clone(),
            self.key.clone(),
            self.shared.holder(self.token),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut connection = shared.connection.clone();
                let _ = scripts::RELEASE
                    .key(shared.keys.holders(&session))
                    .arg(key.as_str())
                    .arg(holder)
                    .invoke_async::<i64>(&mut connection)
                    .await;
            });
        }
    }
}

#[async_trait]
impl StreamHub for RedisHub {
    async fn open_session_stream(
        &self,
        session: &SessionId,
        after: Option<&EventId>,
    ) -> Result<SessionStream, HubError> {
        let shared = &self.shared;
        let key = log::followed_stream(after);
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let token = {
            let mut local = shared.local();
            local.next_token += 1;
            let token = local.next_token;
            // Replaces (ends) a stream of this process that followed the same key.
            local.streams.insert(
                (session.clone(), key.clone()),
                LocalStream { token, sender },
            );
            token
        };
        let held = Held {
            shared: shared.clone(),
            session: session.clone(),
            key: key.clone(),
            token,
        };
        let mut connection = shared.connection.clone();
        let opened: Vec<Option<String>> = scripts::OPEN
            .key(shared.keys.holders(session))
            .key(shared.keys.log(session))
            .key(shared.keys.seq(session))
            .arg(key.as_str())
            .arg(shared.holder(token))
            .arg(HOLDING_MS)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        let mut opened = opened.into_iter();
        let previous = opened.next().flatten();
        let last_seq = opened
            .next()
            .flatten()
            .and_then(|seq| seq.parse().ok())
            .unwrap_or_else(|| log::initial_seq(now_ms()));
        let entries: Vec<(String, LoggedEvent)> = opened
            .flatten()
            .filter_map(|text| Some((text.clone(), serde_json::from_str(&text).ok()?)))
            .collect();

        // The stream it replaces ends, wherever it is held.
        if let Some((process, old_token)) = previous.as_deref().and_then(|p| p.split_once(' ')) {
            if process != shared.process {
                let note = encode(&Note::Replaced {
                    session: session.clone(),
                    stream: key.clone(),
                })?;
                let _: i64 = connection
                    .publish(
                        shared.keys.process_channel(process),
                        format!("{old_token} {note}"),
                    )
                    .await
                    .map_err(unavailable)?;
            }
        }

        let log::Replay { positions, cursor } = log::replay(
            entries.iter().map(|(_, logged)| logged),
            after,
            last_seq,
            now_ms(),
            &LIMITS,
        );
        let mut replay = Vec::with_capacity(positions.len());
        let mut marks = Vec::new();
        for position in positions {
            let Some((text, logged)) = entries.get(position) else {
                continue;
            };
            if !logged.delivered {
                let delivered = LoggedEvent {
                    delivered: true,
                    ..logged.clone()
                };
                marks.push(text.clone());
                marks.push(encode(&delivered)?);
            }
            replay.push(logged.event.clone());
        }
        if !marks.is_empty() {
            let mut invocation = scripts::MARK_DELIVERED.key(shared.keys.log(session));
            for mark in marks {
                invocation.arg(mark);
            }
            invocation
                .invoke_async::<i64>(&mut connection)
                .await
                .map_err(unavailable)?;
        }
        // An event logged while the stream opened can come both in the replay and live. (Not
        // "drop what is below the last id sent": two processes publishing to one session at
        // once can append in the other order than they took their ids.)
        let replayed: std::collections::HashSet<EventId> =
            replay.iter().map(|event| event.id.clone()).collect();
        let live = receiver.filter(move |event| std::future::ready(!replayed.contains(&event.id)));
        let events = stream::iter(replay).chain(live).map(move |event| {
            let _ = &held; // gives up the holding when the stream is dropped
            event
        });
        Ok(SessionStream {
            cursor,
            events: events.boxed(),
        })
    }

    async fn listen(&self, filter: ListenFilter) -> Result<MessageStream, HubError> {
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let mut local = self.shared.local();
        local
            .listeners
            .retain(|listener| !listener.sender.is_closed());
        local.listeners.push(Listener { filter, sender });
        Ok(receiver.boxed())
    }

    async fn publish(&self, audience: &Audience, message: Message) -> Result<(), HubError> {
        let shared = &self.shared;
        let broadcast = match audience {
            Audience::Session(session) => {
                return shared.publish_to_session(session, message).await;
            }
            Audience::ResourceSubscribers(uri) => {
                let mut connection = shared.connection.clone();
                let sessions: Vec<String> = connection
                    .zrangebyscore(shared.keys.subscribers(uri), now_ms() + 1, "+inf")
                    .await
                    .map_err(unavailable)?;
                let sessions: Vec<SessionId> = sessions
                    .into_iter()
                    .filter_map(|s| s.parse().ok())
                    .collect();
                shared.publish_to_sessions(sessions, &message).await?;
                Broadcast::Resource {
                    uri: uri.clone(),
                    data: message,
                }
            }
            Audience::ListChanged(kind) => Broadcast::List {
                kind: *kind,
                data: message,
            },
        };
        let mut connection = shared.connection.clone();
        connection
            .publish::<_, _, i64>(shared.keys.broadcast_channel(), encode(&broadcast)?)
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn record(&self, session: &SessionId, event: Event) -> Result<(), HubError> {
        self.shared.append(session, event).await
    }

    async fn subscribe(
        &self,
        session: &SessionId,
        uri: &str,
        until_ms: u64,
        limit: usize,
    ) -> Result<bool, HubError> {
        let shared = &self.shared;
        let mut connection = shared.connection.clone();
        let subscribed: i64 = scripts::SUBSCRIBE
            .key(shared.keys.subscriptions(session))
            .key(shared.keys.subscribers(uri))
            .arg(uri)
            .arg(session.as_str())
            .arg(until_ms)
            .arg(now_ms())
            .arg(limit)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(subscribed == 1)
    }

    async fn unsubscribe(&self, session: &SessionId, uri: &str) -> Result<(), HubError> {
        let shared = &self.shared;
        let mut connection = shared.connection.clone();
        redis::pipe()
            .atomic()
            .zrem(shared.keys.subscriptions(session), uri)
            .ignore()
            .zrem(shared.keys.subscribers(uri), session.as_str())
            .ignore()
            .query_async::<()>(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn extend_subscriptions(
        &self,
        session: &SessionId,
        until_ms: u64,
    ) -> Result<(), HubError> {
        let shared = &self.shared;
        let mut connection = shared.connection.clone();
        scripts::EXTEND_SUBSCRIPTIONS
            .key(shared.keys.subscriptions(session))
            .arg(until_ms)
            .arg(format!("{}u:", shared.keys.prefix()))
            .arg(session.as_str())
            .invoke_async::<i64>(&mut connection)
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn close_session(&self, session: &SessionId) -> Result<(), HubError> {
        let shared = &self.shared;
        let mut connection = shared.connection.clone();
        let uris: Vec<String> = connection
            .zrange(shared.keys.subscriptions(session), 0, -1)
            .await
            .map_err(unavailable)?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for uri in &uris {
            pipe.zrem(shared.keys.subscribers(uri), session.as_str())
                .ignore();
        }
        pipe.del(&[
            shared.keys.subscriptions(session),
            shared.keys.log(session),
            shared.keys.seq(session),
            shared.keys.holders(session),
            shared.keys.waiters(session),
        ])
        .ignore();
        pipe.query_async::<()>(&mut connection)
            .await
            .map_err(unavailable)?;
        // Not inside the transaction: published there, it did not reach this connection's own
        // subscription (this process's streams of the session would stay open).
        let closed = encode(&Broadcast::Closed {
            session: session.clone(),
        })?;
        connection
            .publish::<_, _, i64>(shared.keys.broadcast_channel(), closed)
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn expect_response(
        &self,
        session: &SessionId,
        request_id: &str,
    ) -> Result<PendingResponse, HubError> {
        let shared = &self.shared;
        let (sender, receiver) = oneshot::channel();
        {
            let mut local = shared.local();
            local.waiting.retain(|_, waiting| !waiting.is_canceled());
            local
                .waiting
                .insert((session.clone(), request_id.to_owned()), sender);
        }
        let mut connection = shared.connection.clone();
        redis::pipe()
            .hset(shared.keys.waiters(session), request_id, &shared.process)
            .ignore()
            .pexpire(shared.keys.waiters(session), 60 * 60 * 1000)
            .ignore()
            .query_async::<()>(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(PendingResponse::from_channel(receiver))
    }

    async fn deliver_response(
        &self,
        session: &SessionId,
        request_id: &str,
        message: Message,
    ) -> Result<bool, HubError> {
        let shared = &self.shared;
        let note = encode(&Note::Answer {
            session: session.clone(),
            request_id: request_id.to_owned(),
            data: message,
        })?;
        let mut connection = shared.connection.clone();
        let heard: i64 = scripts::RESPOND
            .key(shared.keys.waiters(session))
            .arg(request_id)
            .arg(note)
            .arg(shared.keys.process_channel(""))
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(heard > 0)
    }
}
