//! Where legacy session records live: the [`SessionStore`] trait and its in-memory
//! implementation. One record per session; the layer decides when to write.

mod memory;

pub use memory::MemoryStore;

use async_trait::async_trait;

use crate::context::{SessionId, SessionRecord};

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
/// `update` replaces the whole record and should not recreate a deleted one; stores without
/// conditional writes (Workers KV) make that best-effort, and two concurrent changes to one
/// session (log level and a subscription at the same instant) may lose one of them.
/// Implementations must be dyn-compatible (`Arc<dyn SessionStore>`) and their futures `Send`.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new record. Called once per session, after a successful `initialize`.
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError>;

    /// Loads a live record.
    async fn load(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError>;

    /// Replaces a record (log level, subscriptions, expiry).
    async fn update(&self, record: &SessionRecord) -> Result<(), StoreError>;

    /// Deletes a record; deleting an absent record is not an error.
    async fn delete(&self, id: &SessionId) -> Result<(), StoreError>;
}
