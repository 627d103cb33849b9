//! Backends for tests: memory backends that count their calls, and ones that always fail.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use mcp_edge_session::hub::{
    Event, EventId, HubError, ListenFilter, Message, MessageStream, PendingResponse, SessionStream,
};
use mcp_edge_session::store::StoreError;
use mcp_edge_session::{
    Audience, LogLevel, MemoryHub, MemoryStore, SessionId, SessionRecord, SessionStore, StreamHub,
};

#[derive(Debug, Default)]
pub struct Counts {
    pub reads: AtomicUsize,
    pub writes: AtomicUsize,
}

impl Counts {
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
}

/// A memory store that counts reads (`load`) and writes (everything else).
#[derive(Debug, Default, Clone)]
pub struct CountingStore {
    pub inner: Arc<MemoryStore>,
    pub counts: Arc<Counts>,
}

#[async_trait]
impl SessionStore for CountingStore {
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.create(record).await
    }
    async fn load(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(id).await
    }
    async fn extend(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.extend(record).await
    }
    async fn set_log_level(
        &self,
        record: &SessionRecord,
        level: LogLevel,
    ) -> Result<(), StoreError> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.set_log_level(record, level).await
    }
    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(id).await
    }
}

/// A memory hub that counts every call.
#[derive(Debug, Default, Clone)]
pub struct CountingHub {
    pub inner: MemoryHub,
    pub calls: Arc<AtomicUsize>,
}

impl CountingHub {
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    fn tick(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl StreamHub for CountingHub {
    async fn open_session_stream(
        &self,
        s: &SessionId,
        after: Option<&EventId>,
    ) -> Result<SessionStream, HubError> {
        self.tick();
        self.inner.open_session_stream(s, after).await
    }
    async fn listen(&self, filter: ListenFilter) -> Result<MessageStream, HubError> {
        self.tick();
        self.inner.listen(filter).await
    }
    async fn publish(&self, audience: &Audience, message: Message) -> Result<(), HubError> {
        self.tick();
        self.inner.publish(audience, message).await
    }
    async fn record(&self, s: &SessionId, event: Event) -> Result<(), HubError> {
        self.tick();
        self.inner.record(s, event).await
    }
    async fn subscribe(
        &self,
        s: &SessionId,
        uri: &str,
        until: u64,
        limit: usize,
    ) -> Result<bool, HubError> {
        self.tick();
        self.inner.subscribe(s, uri, until, limit).await
    }
    async fn unsubscribe(&self, s: &SessionId, uri: &str) -> Result<(), HubError> {
        self.tick();
        self.inner.unsubscribe(s, uri).await
    }
    async fn extend_subscriptions(&self, s: &SessionId, until: u64) -> Result<(), HubError> {
        self.tick();
        self.inner.extend_subscriptions(s, until).await
    }
    async fn close_session(&self, s: &SessionId) -> Result<(), HubError> {
        self.tick();
        self.inner.close_session(s).await
    }
    async fn expect_response(&self, s: &SessionId, id: &str) -> Result<PendingResponse, HubError> {
        self.tick();
        self.inner.expect_response(s, id).await
    }
    async fn deliver_response(
        &self,
        s: &SessionId,
        id: &str,
        m: Message,
    ) -> Result<bool, HubError> {
        self.tick();
        self.inner.deliver_response(s, id, m).await
    }
}

/// A store whose every operation fails.
#[derive(Debug, Default)]
pub struct FailingStore;

#[async_trait]
impl SessionStore for FailingStore {
    async fn create(&self, _: &SessionRecord) -> Result<(), StoreError> {
        Err(StoreError::unavailable("store down"))
    }
    async fn load(&self, _: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
        Err(StoreError::unavailable("store down"))
    }
    async fn extend(&self, _: &SessionRecord) -> Result<(), StoreError> {
        Err(StoreError::unavailable("store down"))
    }
    async fn set_log_level(&self, _: &SessionRecord, _: LogLevel) -> Result<(), StoreError> {
        Err(StoreError::unavailable("store down"))
    }
    async fn delete(&self, _: &SessionId) -> Result<(), StoreError> {
        Err(StoreError::unavailable("store down"))
    }
}

/// A hub whose every operation fails.
#[derive(Debug, Default)]
pub struct FailingHub;

fn down() -> HubError {
    HubError::unavailable("hub down")
}

#[async_trait]
impl StreamHub for FailingHub {
    async fn open_session_stream(
        &self,
        _: &SessionId,
        _: Option<&EventId>,
    ) -> Result<SessionStream, HubError> {
        Err(down())
    }
    async fn listen(&self, _: ListenFilter) -> Result<MessageStream, HubError> {
        Err(down())
    }
    async fn publish(&self, _: &Audience, _: Message) -> Result<(), HubError> {
        Err(down())
    }
    async fn record(&self, _: &SessionId, _: Event) -> Result<(), HubError> {
        Err(down())
    }
    async fn subscribe(&self, _: &SessionId, _: &str, _: u64, _: usize) -> Result<bool, HubError> {
        Err(down())
    }
    async fn unsubscribe(&self, _: &SessionId, _: &str) -> Result<(), HubError> {
        Err(down())
    }
    async fn extend_subscriptions(&self, _: &SessionId, _: u64) -> Result<(), HubError> {
        Err(down())
    }
    async fn close_session(&self, _: &SessionId) -> Result<(), HubError> {
        Err(down())
    }
    async fn expect_response(&self, _: &SessionId, _: &str) -> Result<PendingResponse, HubError> {
        Err(down())
    }
    async fn deliver_response(&self, _: &SessionId, _: &str, _: Message) -> Result<bool, HubError> {
        Err(down())
    }
}
