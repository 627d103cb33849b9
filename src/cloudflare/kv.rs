//! [`KvSessionStore`]: session records in Workers KV, one value per session.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use worker::send::{SendFuture, SendWrapper};
use worker::KvStore;

use super::recent;
use crate::context::{now_ms, LogLevel, SessionId, SessionRecord};
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

/// Session records in a Workers KV namespace: the record under `mcp-session:<id>` and the log
/// level under `mcp-session:<id>:level`, read together in one bulk read, each with a KV
/// expiration at the session's idle timeout (so KV deletes abandoned sessions itself).
///
/// Cloudflare KV takes one write per second per key and has no conditional writes. So each
/// change writes only its own key: `initialize` the record, `logging/setLevel` the level, an
/// extension the record (and the level, to keep it alive as long). A client's start sequence
/// (`initialize`, then `logging/setLevel` at once) writes two different keys and is never
/// rate-limited; an extension refused as rate-limited was just made by another request and
/// counts as done; a second `logging/setLevel` within a second waits for the second to pass.
/// An extension first checks that the record is still there (one read), so a request in flight
/// during DELETE does not bring the session back; a level set for a deleted session is a lone
/// key that revives nothing and expires by itself. What KV cannot prevent, having no
/// conditional writes: a DELETE landing between that check and the write (one KV round trip)
/// is undone until the record expires, and an extension that read the level just before another
/// isolate changed it rewrites the old level (once per half idle timeout, same window).
/// Reads elsewhere may lag writes by up to ~60 s (KV's eventual consistency). An isolate that
/// read or wrote a record in the last second serves it without reading KV again (see
/// `recent.rs`): a change made through another isolate shows here at most a second later.
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

    fn level_key(&self, id: &SessionId) -> String {
        format!("{}{id}:level", self.prefix)
    }

    /// Writes one key with the session's remaining life as its expiration.
    async fn put(
        &self,
        key: String,
        value: String,
        record: &SessionRecord,
        on_rate_limit: OnRateLimit,
    ) -> Result<(), StoreError> {
        let ttl_secs = record
            .expires_at_ms
            .saturating_sub(now_ms())
            .div_ceil(1000)
            .max(MIN_TTL_SECS);
        let kv = &self.kv;
        write(on_rate_limit, || async {
            kv.put(&key, value.as_str())?
                .expiration_ttl(ttl_secs)
                .execute()
                .await
        })
        .await
    }

    /// Whether the record is still there: a change checks it first, so a request that was in
    /// flight during DELETE does not bring the session back (KV cannot write conditionally,
    /// so a DELETE landing between the check and the write still can).
    async fn exists(&self, id: &SessionId) -> Result<bool, StoreError> {
        let key = self.key(id);
        let kv = &self.kv;
        super::stats::kv_read();
        SendFuture::new(async move { kv.get(&key).text().await })
            .await
            .map(|value| value.is_some())
            .map_err(kv_error)
    }

    async fn put_record(
        &self,
        record: &SessionRecord,
        on_rate_limit: OnRateLimit,
    ) -> Result<(), StoreError> {
        // The level has its own key: the record key holds what `initialize` set.
        let record = SessionRecord {
            log_level: None,
            ..record.clone()
        };
        let value = serde_json::to_string(&Stored {
            v: RECORD_VERSION,
            record: record.clone(),
        })
        .map_err(StoreError::Corrupt)?;
        self.put(self.key(&record.id), value, &record, on_rate_limit)
            .await
    }
}

/// What a write does when KV refuses it as the key's second write within a second.
#[derive(Clone, Copy)]
enum OnRateLimit {
    /// Counts it as done (an extension another request just made).
    Done,
    /// Tries again a second later, a bounded number of times.
    Retry,
}

/// Runs one KV write (a put or a delete); on KV's per-key rate limit, `on_rate_limit` decides.
async fn write<F, Fut>(on_rate_limit: OnRateLimit, operation: F) -> Result<(), StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), worker::KvError>>,
{
    SendFuture::new(async move {
        let mut attempt = 0;
        loop {
            super::stats::kv_write();
            match operation().await {
                Err(error) if is_rate_limited(&error) => match on_rate_limit {
                    OnRateLimit::Done => return Ok(()),
                    OnRateLimit::Retry if attempt < WRITE_RETRIES => {
                        attempt += 1;
                        worker::Delay::from(std::time::Duration::from_millis(1100)).await;
                    }
                    OnRateLimit::Retry => return Err(error),
                },
                other => return other,
            }
        }
    })
    .await
    .map_err(kv_error)
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
        self.put_record(record, OnRateLimit::Retry).await?;
        recent::put(&self.key(&record.id), record, now_ms());
        Ok(())
    }

    async fn load(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
        let (key, level_key) = (self.key(id), self.level_key(id));
        let now = now_ms();
        if let Some(record) = recent::get(&key, now) {
            return Ok((!record.is_expired(now)).then_some(record));
        }
        let kv = &self.kv;
        super::stats::kv_read();
        let keys = [key.clone(), level_key.clone()];
        let mut values = SendFuture::new(async move { kv.get_bulk(&keys).text().await })
            .await
            .map_err(kv_error)?;
        let Some(text) = values.remove(&key).flatten() else {
            return Ok(None);
        };
        // A record this build cannot read is treated as absent: the client gets 404 and
        // starts a new session, instead of 503 until the record expires.
        let mut stored = match serde_json::from_str::<Stored>(&text) {
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
        if let Some(level) = values.remove(&level_key).flatten() {
            stored.record.log_level = serde_json::from_str(&level).ok();
        }
        recent::put(&key, &stored.record, now);
        // KV expiry is coarse (whole seconds, at least a minute): the record's own expiry rules.
        Ok((!stored.record.is_expired(now)).then_some(stored.record))
    }

    async fn extend(&self, record: &SessionRecord) -> Result<(), StoreError> {
        if !self.exists(&record.id).await? {
            return Ok(());
        }
        self.put_record(record, OnRateLimit::Done).await?;
        let expires_at_ms = record.expires_at_ms;
        recent::update(&self.key(&record.id), |r| r.expires_at_ms = expires_at_ms);
        if let Some(level) = record.log_level {
            let value = serde_json::to_string(&level).map_err(StoreError::Corrupt)?;
            self.put(self.level_key(&record.id), value, record, OnRateLimit::Done)
                .await?;
        }
        Ok(())
    }

    async fn set_log_level(
        &self,
        record: &SessionRecord,
        level: LogLevel,
    ) -> Result<(), StoreError> {
        let value = serde_json::to_string(&level).map_err(StoreError::Corrupt)?;
        self.put(
            self.level_key(&record.id),
            value,
            record,
            OnRateLimit::Retry,
        )
        .await?;
        recent::update(&self.key(&record.id), |r| r.log_level = Some(level));
        Ok(())
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        recent::forget(&self.key(id));
        let kv = &self.kv;
        for key in [self.key(id), self.level_key(id)] {
            write(OnRateLimit::Retry, || kv.delete(&key)).await?;
        }
        Ok(())
    }
}
