use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use super::{SessionStore, StoreError};
use crate::context::{now_ms, SessionId, SessionRecord};

/// Session records in process memory, for native servers and tests.
///
/// Expired records are dropped when they are next looked up.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<SessionId, SessionRecord>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
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
        self.lock().insert(record.id.clone(), record.clone());
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

    async fn update(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.lock().insert(record.id.clone(), record.clone());
        Ok(())
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        self.lock().remove(id);
        Ok(())
    }
}
