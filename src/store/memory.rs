use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use super::{SessionStore, StoreError};
use crate::context::{now_ms, LogLevel, SessionId, SessionRecord};

/// The store size at which `create` first sweeps out expired records.
const FIRST_SWEEP: usize = 256;

/// How many sessions a store holds unless told otherwise.
const DEFAULT_MAX_SESSIONS: usize = 100_000;

/// Session records in process memory, for native servers and tests.
///
/// Expired records are dropped when they are next looked up, and swept out whenever the store
/// has doubled since the last sweep (abandoned sessions are never looked up again), which
/// keeps the cost per `create` constant. It holds at most a fixed number of sessions
/// (100,000 by default): when full, expired ones go first, and with none expired `create`
/// fails with [`StoreError::Full`], which the layer answers with 503.
#[derive(Debug)]
pub struct MemoryStore {
    records: Mutex<HashMap<SessionId, SessionRecord>>,
    sweep_at: std::sync::atomic::AtomicUsize,
    max_sessions: usize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            records: Mutex::default(),
            sweep_at: Default::default(),
            max_sessions: DEFAULT_MAX_SESSIONS,
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that holds at most `max_sessions` sessions.
    ///
    /// ```
    /// let store = mcp_edge_session::MemoryStore::new().with_max_sessions(10_000);
    /// # let _ = store;
    /// ```
    #[must_use]
    pub fn with_max_sessions(mut self, max_sessions: usize) -> Self {
        self.max_sessions = max_sessions;
        self
    }

    /// How many records are held (expired ones included until looked up).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, SessionRecord>> {
        // A panic while holding the lock cannot leave a map half-updated: every critical
        // section is a single map operation.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        let mut records = self.lock();
        let sweep_at = self.sweep_at.load(Ordering::Relaxed).max(FIRST_SWEEP);
        if records.len() >= sweep_at.min(self.max_sessions) {
            let now = now_ms();
            records.retain(|_, r| !r.is_expired(now));
            self.sweep_at.store(records.len() * 2, Ordering::Relaxed);
        }
        if records.len() >= self.max_sessions {
            return Err(StoreError::Full {
                capacity: self.max_sessions,
            });
        }
        records.insert(record.id.clone(), record.clone());
        Ok(())
    }

    async fn load(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
        let mut records = self.lock();
        match records.get(id) {
            Some(record) if record.is_expired(now_ms()) => {
                records.remove(id);
                Ok(None)
            }
            found => Ok(found.cloned()),
        }
    }

    async fn extend(&self, record: &SessionRecord) -> Result<(), StoreError> {
        // Only a live record changes: a request that was in flight during DELETE must not
        // bring the session back.
        if let Some(stored) = self.lock().get_mut(&record.id) {
            stored.expires_at_ms = stored.expires_at_ms.max(record.expires_at_ms);
        }
        Ok(())
    }

    async fn set_log_level(
        &self,
        record: &SessionRecord,
        level: LogLevel,
    ) -> Result<(), StoreError> {
        if let Some(stored) = self.lock().get_mut(&record.id) {
            stored.log_level = Some(level);
        }
        Ok(())
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        self.lock().remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn abandoned_records_are_swept() {
        let store = MemoryStore::new();
        for _ in 0..FIRST_SWEEP {
            let record = SessionRecord::new(SessionId::generate(), "2025-11-25", 0, 1);
            store.create(&record).await.unwrap();
        }
        let fresh = SessionRecord::new(SessionId::generate(), "2025-11-25", now_ms(), 60_000);
        store.create(&fresh).await.unwrap();
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn a_full_store_drops_expired_sessions_first_then_refuses() {
        let store = MemoryStore::new().with_max_sessions(2);
        let expired = SessionRecord::new(SessionId::generate(), "2025-11-25", 0, 1);
        store.create(&expired).await.unwrap();
        for _ in 0..2 {
            let live = SessionRecord::new(SessionId::generate(), "2025-11-25", now_ms(), 60_000);
            store.create(&live).await.unwrap();
        }
        assert_eq!(store.len(), 2, "the expired one made room");
        let one_more = SessionRecord::new(SessionId::generate(), "2025-11-25", now_ms(), 60_000);
        assert!(matches!(
            store.create(&one_more).await,
            Err(StoreError::Full { capacity: 2 })
        ));
    }
}
