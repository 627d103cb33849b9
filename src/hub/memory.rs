use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures_channel::{mpsc, oneshot};
use futures_util::{stream, StreamExt};

use super::log::{self, LogLimits, LoggedEvent};
use super::{
    routing, Audience, Event, EventId, HubError, ListenFilter, Message, MessageStream,
    PendingResponse, SessionStream, StreamHub, StreamKey,
};
use crate::context::{now_ms, SessionId};

/// Limits of a [`MemoryHub`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MemoryHubConfig {
    /// Events kept per session for replay and offline buffering.
    pub log_capacity: usize,
    /// How long an event is kept for replay.
    pub log_max_age: Duration,
    /// Messages queued per open stream; a stream whose client falls this far behind is ended
    /// (the client resumes from the log with `Last-Event-ID`).
    pub stream_buffer: usize,
}

impl Default for MemoryHubConfig {
    fn default() -> Self {
        Self {
            log_capacity: 256,
            log_max_age: Duration::from_secs(300),
            stream_buffer: 64,
        }
    }
}

/// A hub in process memory: streams are channels, runtime-agnostic (no tokio), so it also
/// works inside a single wasm isolate.
#[derive(Debug, Default, Clone)]
pub struct MemoryHub {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    config: MemoryHubConfig,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<SessionId, SessionState>,
    /// URI → subscribed sessions → until when.
    subscribers: HashMap<String, HashMap<SessionId, u64>>,
    listeners: Vec<Listener>,
    pending: HashMap<(SessionId, String), oneshot::Sender<Message>>,
    last_sweep_ms: u64,
    /// Orders the streams by when they opened.
    streams_opened: u64,
}

/// How often (at most) the hub sweeps out what disconnected clients and expired sessions left
/// behind; a sweep walks every session, so it is paced by time, not by operations.
const SWEEP_INTERVAL_MS: u64 = 1000;

#[derive(Debug)]
struct SessionState {
    last_seq: u64,
    log: VecDeque<LoggedEvent>,
    streams: Vec<OpenStream>,
    subscriptions: BTreeSet<String>,
    subscribed_until_ms: u64,
}

impl Default for SessionState {
    fn default() -> Self {
        Self {
            last_seq: log::initial_seq(now_ms()),
            log: VecDeque::new(),
            streams: Vec::new(),
            subscriptions: BTreeSet::new(),
            subscribed_until_ms: 0,
        }
    }
}

#[derive(Debug)]
struct OpenStream {
    key: StreamKey,
    opened: u64,
    sender: mpsc::Sender<Event>,
}

#[derive(Debug)]
struct Listener {
    filter: ListenFilter,
    sender: mpsc::Sender<Message>,
}

impl MemoryHubConfig {
    fn limits(&self) -> LogLimits {
        LogLimits {
            capacity: self.log_capacity,
            max_age_ms: u64::try_from(self.log_max_age.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl MemoryHub {
    /// A hub with default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A hub with the given limits.
    pub fn with_config(config: MemoryHubConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                state: Mutex::default(),
            }),
        }
    }

    /// How many streams (session streams and listeners) are open.
    pub fn open_streams(&self) -> usize {
        let mut state = self.lock();
        state.sweep(&self.shared.config);
        state.listeners.len()
            + state
                .sessions
                .values()
                .map(|s| s.streams.len())
                .sum::<usize>()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Critical sections never leave the state inconsistent halfway through a panic that
        // matters: channels and maps are updated one operation at a time.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Sweeps if the last sweep is [`SWEEP_INTERVAL_MS`] old.
    fn tick(&mut self, config: &MemoryHubConfig) {
        if now_ms().saturating_sub(self.last_sweep_ms) >= SWEEP_INTERVAL_MS {
            self.sweep(config);
        }
    }

    /// Drops closed streams and listeners, abandoned pending requests, expired log entries,
    /// and sessions left with nothing.
    fn sweep(&mut self, config: &MemoryHubConfig) {
        let now = now_ms();
        let limits = config.limits();
        self.last_sweep_ms = now;
        self.listeners.retain(|l| !l.sender.is_closed());
        self.pending.retain(|_, sender| !sender.is_canceled());
        for session in self.sessions.values_mut() {
            session.streams.retain(|s| !s.sender.is_closed());
            session.forget_old(now, &limits);
        }
        for sessions in self.subscribers.values_mut() {
            sessions.retain(|_, until| *until > now);
        }
        self.subscribers.retain(|_, sessions| !sessions.is_empty());
        self.sessions.retain(|_, s| !s.is_idle(now));
    }
}

impl SessionState {
    /// Forgets events past the log's age.
    fn forget_old(&mut self, now: u64, limits: &LogLimits) {
        while self
            .log
            .front()
            .is_some_and(|e| !limits.keeps(e.at_ms, now))
        {
            self.log.pop_front();
        }
    }

    /// Appends an event and hands it to the stream following its stream key, if one is open.
    fn push(&mut self, event: Event, limits: &LogLimits) {
        let now = now_ms();
        self.forget_old(now, limits);
        let overflow = limits.overflow(self.log.len());
        self.log.drain(..overflow);
        let delivered = self.deliver(&event);
        self.log.push_back(LoggedEvent {
            event,
            at_ms: now,
            delivered,
        });
    }

    /// Applies the routing rule to the streams following `key`: the newest stays and is
    /// returned, the older ones are dropped (which ends them).
    fn receiver(&mut self, key: &StreamKey) -> Option<&mut OpenStream> {
        let (following, mut others): (Vec<_>, Vec<_>) = std::mem::take(&mut self.streams)
            .into_iter()
            .partition(|open| &open.key == key);
        let (receiver, _ended) =
            routing::newest_receives(following.into_iter().map(|s| (s.opened, s)).collect());
        others.extend(receiver);
        self.streams = others;
        self.streams.last_mut().filter(|open| &open.key == key)
    }

    fn deliver(&mut self, event: &Event) -> bool {
        let Some(open) = self.receiver(&event.id.stream) else {
            return false;
        };
        if open.sender.try_send(event.clone()).is_ok() {
            return true;
        }
        // Closed, or too far behind: end it; the client resumes from the log.
        self.streams.pop();
        false
    }

    fn has_standalone_stream(&self) -> bool {
        self.streams
            .iter()
            .any(|open| routing::list_change_reaches(&open.key))
    }

    fn is_idle(&self, now: u64) -> bool {
        self.streams.is_empty()
            && self.log.is_empty()
            && (self.subscriptions.is_empty() || self.subscribed_until_ms <= now)
    }
}

#[async_trait]
impl StreamHub for MemoryHub {
    async fn open_session_stream(
        &self,
        session: &SessionId,
        after: Option<&EventId>,
    ) -> Result<SessionStream, HubError> {
        let mut state = self.lock();
        state.tick(&self.shared.config);
        state.streams_opened += 1;
        let opened = state.streams_opened;
        let limits = self.shared.config.limits();
        let entry = state.sessions.entry(session.clone()).or_default();

        let log::Replay { positions, cursor } =
            log::replay(&entry.log, after, entry.last_seq, now_ms(), &limits);
        let mut replay = Vec::with_capacity(positions.len());
        for position in positions {
            if let Some(logged) = entry.log.get_mut(position) {
                logged.delivered = true;
                replay.push(logged.event.clone());
            }
        }

        let key = log::followed_stream(after);
        let (sender, receiver) = mpsc::channel(self.shared.config.stream_buffer);
        entry.streams.push(OpenStream {
            key: key.clone(),
            opened,
            sender,
        });
        // Ends the stream this one replaces.
        entry.receiver(&key);
        tracing::debug!(session = %session.log_tag(), replayed = replay.len(), "session stream opened");
        Ok(SessionStream {
            cursor,
            events: stream::iter(replay).chain(receiver).boxed(),
        })
    }

    async fn listen(&self, filter: ListenFilter) -> Result<MessageStream, HubError> {
        let (sender, receiver) = mpsc::channel(self.shared.config.stream_buffer);
        let mut state = self.lock();
        state.tick(&self.shared.config);
        state.listeners.push(Listener { filter, sender });
        Ok(receiver.boxed())
    }

    async fn publish(&self, audience: &Audience, message: Message) -> Result<(), HubError> {
        let config = &self.shared.config;
        let mut state = self.lock();
        let state = &mut *state;
        let sessions: Vec<SessionId> = match audience {
            Audience::Session(id) => vec![id.clone()],
            Audience::ResourceSubscribers(uri) => {
                let now = now_ms();
                state.subscribers.get(uri).map_or_else(Vec::new, |ids| {
                    ids.iter()
                        .filter(|(_, until)| **until > now)
                        .map(|(id, _)| id.clone())
                        .collect()
                })
            }
            Audience::ListChanged(_) => state
                .sessions
                .iter()
                .filter(|(_, session)| session.has_standalone_stream())
                .map(|(id, _)| id.clone())
                .collect(),
        };
        let limits = config.limits();
        for id in sessions {
            let session = state.sessions.entry(id).or_default();
            let event = Event {
                id: log::next_standalone_id(&mut session.last_seq),
                data: message.clone(),
            };
            session.push(event, &limits);
        }
        state.listeners.retain_mut(|listener| {
            !listener.filter.admits(audience) || listener.sender.try_send(message.clone()).is_ok()
        });
        state.tick(config);
        Ok(())
    }

    async fn record(&self, session: &SessionId, event: Event) -> Result<(), HubError> {
        let mut state = self.lock();
        let entry = state.sessions.entry(session.clone()).or_default();
        entry.push(event, &self.shared.config.limits());
        Ok(())
    }

    async fn subscribe(
        &self,
        session: &SessionId,
        uri: &str,
        until_ms: u64,
        limit: usize,
    ) -> Result<bool, HubError> {
        let mut state = self.lock();
        let state = &mut *state;
        let entry = state.sessions.entry(session.clone()).or_default();
        if entry.subscribed_until_ms <= now_ms() {
            entry.subscriptions.clear(); // lapsed
        }
        if !entry.subscriptions.contains(uri) && entry.subscriptions.len() >= limit {
            return Ok(false);
        }
        entry.subscriptions.insert(uri.to_owned());
        entry.subscribed_until_ms = until_ms;
        for uri in &entry.subscriptions {
            state
                .subscribers
                .entry(uri.clone())
                .or_default()
                .insert(session.clone(), until_ms);
        }
        Ok(true)
    }

    async fn unsubscribe(&self, session: &SessionId, uri: &str) -> Result<(), HubError> {
        let mut state = self.lock();
        if let Some(entry) = state.sessions.get_mut(session) {
            entry.subscriptions.remove(uri);
        }
        if let Some(sessions) = state.subscribers.get_mut(uri) {
            sessions.remove(session);
            if sessions.is_empty() {
                state.subscribers.remove(uri);
            }
        }
        Ok(())
    }

    async fn extend_subscriptions(
        &self,
        session: &SessionId,
        until_ms: u64,
    ) -> Result<(), HubError> {
        let mut state = self.lock();
        let state = &mut *state;
        let Some(entry) = state.sessions.get_mut(session) else {
            return Ok(());
        };
        entry.subscribed_until_ms = until_ms;
        for uri in &entry.subscriptions {
            if let Some(until) = state
                .subscribers
                .get_mut(uri)
                .and_then(|sessions| sessions.get_mut(session))
            {
                *until = until_ms;
            }
        }
        Ok(())
    }

    async fn close_session(&self, session: &SessionId) -> Result<(), HubError> {
        let mut state = self.lock();
        // Dropping the senders ends the session's streams.
        state.sessions.remove(session);
        state.subscribers.retain(|_, sessions| {
            sessions.remove(session);
            !sessions.is_empty()
        });
        // Dropping the pending senders fails the waiting requests with `Closed`.
        state.pending.retain(|(id, _), _| id != session);
        Ok(())
    }

    async fn expect_response(
        &self,
        session: &SessionId,
        request_id: &str,
    ) -> Result<PendingResponse, HubError> {
        let (sender, receiver) = oneshot::channel();
        let mut state = self.lock();
        state.tick(&self.shared.config);
        state
            .pending
            .insert((session.clone(), request_id.to_owned()), sender);
        drop(state);
        Ok(PendingResponse::from_channel(receiver))
    }

    async fn deliver_response(
        &self,
        session: &SessionId,
        request_id: &str,
        message: Message,
    ) -> Result<bool, HubError> {
        let waiting = self
            .lock()
            .pending
            .remove(&(session.clone(), request_id.to_owned()));
        Ok(waiting.is_some_and(|sender| sender.send(message).is_ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(n: u64) -> Message {
        Message::from(json!({ "n": n }).to_string())
    }

    #[tokio::test]
    async fn the_log_is_bounded() {
        let hub = MemoryHub::with_config(MemoryHubConfig {
            log_capacity: 3,
            ..MemoryHubConfig::default()
        });
        let session = SessionId::generate();
        for n in 1..=5 {
            hub.publish(&Audience::Session(session.clone()), message(n))
                .await
                .unwrap();
        }
        let mut stream = hub.open_session_stream(&session, None).await.unwrap();
        let mut got = Vec::new();
        while let Some(Some(event)) = futures_util::FutureExt::now_or_never(stream.events.next()) {
            got.push(event.data);
        }
        assert_eq!(got, vec![message(3), message(4), message(5)]);
    }

    #[tokio::test]
    async fn ids_keep_rising_after_a_session_was_swept() {
        let hub = MemoryHub::with_config(MemoryHubConfig {
            log_max_age: Duration::from_millis(10),
            ..MemoryHubConfig::default()
        });
        let session = SessionId::generate();
        let mut stream = hub.open_session_stream(&session, None).await.unwrap();
        hub.publish(&Audience::Session(session.clone()), message(1))
            .await
            .unwrap();
        let first = stream.events.next().await.unwrap().id;
        drop(stream);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(hub.open_streams(), 0); // sweeps the idle session away
        assert!(hub.lock().sessions.is_empty());
        let mut stream = hub
            .open_session_stream(&session, Some(&first))
            .await
            .unwrap();
        hub.publish(&Audience::Session(session.clone()), message(2))
            .await
            .unwrap();
        let second = stream.events.next().await.unwrap();
        assert!(second.id.seq > first.seq, "{:?} after {first:?}", second.id);
        assert_eq!(second.data, message(2));
    }

    #[tokio::test]
    async fn sweeps_forget_what_disconnected_clients_left() {
        let hub = MemoryHub::new();
        let session = SessionId::generate();
        let stream = hub.open_session_stream(&session, None).await.unwrap();
        let listener = hub.listen(ListenFilter::default()).await.unwrap();
        let pending = hub.expect_response(&session, "1").await.unwrap();
        assert_eq!(hub.open_streams(), 2);
        drop((stream, listener, pending));
        assert_eq!(hub.open_streams(), 0);
        let state = hub.lock();
        assert!(state.pending.is_empty());
        assert!(state.sessions.is_empty());
    }
}
