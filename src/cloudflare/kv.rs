//! [`KvSessionStore`]: session records in Workers KV, one value per session.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use worker::send::{SendFuture, SendWrapper};
use worker::KvStore;

use crate::context::{now_ms, SessionId, SessionRecord};
use crate::store::{SessionStore, StoreError};

/// KV rejects expirations shorter than a minute.
const MIN_TTL_SECS: u64 = 60;

/// The schema version of stored records.
const RECORD_VERSION: u32 = 1;

/// A stored record, versioned so a later schema can read (or refuse) it knowingly.
#[derive(Serialize, Deserialize)]
struct Stored {
    v: u32,
    #[serde(flatten)]
    record: SessionRecord,
}

/// Session records in a Workers KV namespace, under `mcp-session:<id>`, each with a KV
/// expiration at the session's idle timeout (so KV deletes abandoned sessions itself).
///
/// KV is eventually consistent across locations (reads elsewhere may lag up to ~60 s) and
/// takes at most one write per second per key; the layer writes a record only at
/// `initialize`, on `logging/setLevel` and subscription changes, and when less than half the
/// idle timeout remains.
pub struct KvSessionStore {
    kv: SendWrapper<KvStore>,
    prefix: String,
}

impl KvSessionStore {
    /// A store over a KV namespace binding.
    pub fn new(kv: KvStore) -> Self {
        Self {
            kv: SendWrapper::new(kv),
            prefix: "mcp-session:".into(),
        }
    }

    fn key(&self, id: &SessionId) -> String {
        format!("{}{id}", self.prefix)
    }

    async fn put(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let value = serde_json::to_string(&Stored {
            v: RECORD_VERSION,
            record: record.clone(),
        })
        .map_err(StoreError::Corrupt)?;
        let ttl_secs = record
            .expires_at_ms
            .saturating_sub(now_ms())
            .div_ceil(1000)
            .max(MIN_TTL_SECS);
        let key = self.key(&record.id);
        let kv = &self.kv;
        SendFuture::new(async move {
            // KV takes one write per second per key; a client that sets its log level right
            // after initialize would hit that limit, so rate-limited writes are retried.
            let mut attempt = 0;
            loop {
                super::stats::kv_write();
                let result = kv
                    .put(&key, value.as_str())?
                    .expiration_ttl(ttl_secs)
                    .execute()
                    .await;
                match result {
                    Err(error) if attempt < WRITE_RETRIES && is_rate_limited(&error) => {
                        attempt += 1;
                        worker::Delay::from(std::time::Duration::from_millis(1100)).await;
                    }
                    other => return other,
                }
            }
        })
        .await
        .map_err(kv_error)
    }
}

/// How often a rate-limited write is retried (a second apart).
const WRITE_RETRIES: u32 = 2;

fn is_rate_limited(error: &worker::KvError) -> bool {
    let text = error.to_string();
    text.contains("429") || text.to_ascii_lowercase().contains("too many requests")
}

fn kv_error(error: worker::KvError) -> StoreError {
    StoreError::unavailable(format!("Workers KV: {error}"))
}

impl fmt::Debug for KvSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvSessionStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SessionStore for KvSessionStore {
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.put(record).await
    }

    async fn load(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
        let key = self.key(id);
        let kv = &self.kv;
        super::stats::kv_read();
        let text = SendFuture::new(async move { kv.get(&key).text().await })
            .await
            .map_err(kv_error)?;
        let Some(text) = text else { return Ok(None) };
        // A record this build cannot read is treated as absent: the client gets 404 and
        // starts a new session, instead of 503 until the record expires.
        let stored = match serde_json::from_str::<Stored>(&text) {
            Ok(stored) if stored.v == RECORD_VERSION => stored,
            Ok(stored) => {
                tracing::warn!(session = %id.log_tag(), version = stored.v, "session record of another schema version");
                return Ok(None);
            }
            Err(error) => {
                tracing::warn!(session = %id.log_tag(), %error, "unreadable session record");
                return Ok(None);
            }
        };
        // KV expiry is coarse (whole seconds, at least a minute): the record's own expiry rules.
        Ok((!stored.record.is_expired(now_ms())).then_some(stored.record))
    }

    async fn update(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.put(record).await
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        let key = self.key(id);
        let kv = &self.kv;
        super::stats::kv_write();
        SendFuture::new(async move { kv.delete(&key).await })
            .await
            .map_err(kv_error)
    }
}
