//! [`RedisStore`]: session records in Redis, one hash per session with a Redis expiry at the
//! session's idle timeout.

use std::collections::HashMap;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use super::keys::Keys;
use super::scripts;
use crate::context::{now_ms, LogLevel, SessionId, SessionRecord};
use crate::store::{SessionStore, StoreError};

/// Session records in Redis: a hash per session holding what `initialize` set (`r`), the expiry
/// (`e`) and the log level (`l`), expiring with the session. A steady request costs one
/// `HGETALL`; each change is one script that changes only its field and only while the session
/// exists, so concurrent changes never undo each other and none brings back a deleted session.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    keys: Keys,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.prefix())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    pub(crate) fn new(connection: ConnectionManager, keys: Keys) -> Self {
        Self { connection, keys }
    }
}

pub(crate) fn unavailable(error: redis::RedisError) -> StoreError {
    StoreError::Unavailable {
        message: format!("Redis: {error}"),
        source: Some(Box::new(error)),
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let key = self.keys.session(&record.id);
        let stored = SessionRecord {
            log_level: None,
            ..record.clone()
        };
        let json = serde_json::to_string(&stored).map_err(StoreError::Corrupt)?;
        let mut connection = self.connection.clone();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &key,
                &[("r", json), ("e", record.expires_at_ms.to_string())],
            )
            .ignore()
            .pexpire_at(
                &key,
                i64::try_from(record.expires_at_ms).unwrap_or(i64::MAX),
            )
            .ignore();
        if let Some(level) = record.log_level {
            let level = serde_json::to_string(&level).map_err(StoreError::Corrupt)?;
            pipe.hset(&key, "l", level).ignore();
        }
        pipe.query_async::<()>(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn load(&self, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
        let mut connection = self.connection.clone();
        let fields: HashMap<String, String> = connection
            .hgetall(self.keys.session(id))
            .await
            .map_err(unavailable)?;
        let Some(json) = fields.get("r") else {
            return Ok(None);
        };
        let mut record: SessionRecord = match serde_json::from_str(json) {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(session = %id.log_tag(), %error, "unreadable session record");
                return Ok(None);
            }
        };
        if let Some(expires) = fields.get("e").and_then(|e| e.parse().ok()) {
            record.expires_at_ms = expires;
        }
        record.log_level = fields.get("l").and_then(|l| serde_json::from_str(l).ok());
        Ok((!record.is_expired(now_ms())).then_some(record))
    }

    async fn extend(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        scripts::EXTEND
            .key(self.keys.session(&record.id))
            .arg(record.expires_at_ms)
            .invoke_async::<i64>(&mut connection)
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn set_log_level(
        &self,
        record: &SessionRecord,
        level: LogLevel,
    ) -> Result<(), StoreError> {
        let level = serde_json::to_string(&level).map_err(StoreError::Corrupt)?;
        let mut connection = self.connection.clone();
        scripts::SET_LEVEL
            .key(self.keys.session(&record.id))
            .arg(level)
            .invoke_async::<i64>(&mut connection)
            .await
            .map(drop)
            .map_err(unavailable)
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        connection
            .del::<_, ()>(self.keys.session(id))
            .await
            .map_err(unavailable)
    }
}
