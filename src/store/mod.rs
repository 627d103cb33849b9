//! Where legacy session records live: the [`SessionStore`] trait and its in-memory
//! implementation. One record per session; the layer decides when to write.

mod memory;

pub use memory::MemoryStore;

use async_trait::async_trait;

use crate::context::{LogLevel, SessionId, SessionRecord};

/// A store backend failed; the layer answers 503 and keeps the session as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or refused the operation.
    #[error("session store unavailable: {message}")]
    Unavailable {
        /// What the backend said.
        message: String,
        /// The backend's own error, when it has one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A stored record could not be read back.
    #[error("session record is corrupt")]
    Corrupt(#[source] serde_json::Error),
    /// The store holds as many live sessions as it may.
    #[error("session store full: {capacity} live sessions")]
    Full {
        /// How many sessions the store holds at most.
        capacity: usize,
    },
}

impl StoreError {
    /// An unavailable backend, described by `message`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable {
            message: message.into(),
            source: None,
        }
    }
}

/// Persistence of legacy session records.
///
/// Expired equals absent: `load` returns `Ok(None)` for a record past its `expires_at_ms`.
/// A record is written whole once, at `initialize`; after that each change is one operation
/// that touches only what it changes (the expiry, the log level), so two changes made at once
/// on different isolates or processes never undo each other, and no change brings back a
/// deleted session. Stores without conditional writes (Workers KV) make the last point
/// best-effort and say what remains. (Resource subscriptions are not here: the
/// [`StreamHub`](crate::StreamHub) owns them, next to the index that broadcasts use.)
/// Implementations must be dyn-compatible (`Arc<dyn SessionStore>`) and their futures `Send`.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new record. Called once per session, after a successful `initialize`.
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError>;

    /// Loads a live record.
    async fn load(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError>;

    /// Extends a live session's life to `record.expires_at_ms` (`record` is the session as
    /// loaded, with its new expiry). Nothing else of the stored record changes.
    async fn extend(&self, record: &SessionRecord) -> Result<(), StoreError>;

    /// Sets a live session's log level (`record` is the session as loaded).
    async fn set_log_level(
        &self,
        record: &SessionRecord,
        level: LogLevel,
    ) -> Result<(), StoreError>;

    /// Deletes a record; deleting an absent record is not an error.
    async fn delete(&self, id: &SessionId) -> Result<(), StoreError>;
}
