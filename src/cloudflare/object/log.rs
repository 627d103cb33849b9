//! A session's event log in the object's storage: one key per event and one for where the log
//! stands. What is kept and replayed follows the hub's rules ([`crate::hub::log`]).

use serde::{Deserialize, Serialize};
use worker::{Result, WebSocket};

use super::storage::{delete_all, get_json, list, put_json};
use super::McpSessionHub;
use crate::cloudflare::wire::{tags, Frame};
use crate::context::now_ms;
use crate::hub::log::{self, LogLimits, LoggedEvent};
use crate::hub::{Event, EventId, Message};

/// What the object keeps of each session's log.
pub(super) const LIMITS: LogLimits = LogLimits {
    capacity: 128,
    max_age_ms: 10 * 60 * 1000,
};

/// Where a session's log stands.
#[derive(Serialize, Deserialize, Debug)]
pub(super) struct LogMeta {
    /// Sequence number of the last standalone event.
    #[serde(alias = "next_seq")]
    last_seq: u64,
    /// Storage index the next entry gets.
    next_index: u64,
    /// Storage index of the oldest kept entry.
    first_index: u64,
    /// When the last event was logged: once that is past the log's age, nothing of the log
    /// is kept and the sweep forgets this too (ids rise from the clock, see
    /// [`log::initial_seq`]).
    #[serde(default)]
    pub(super) at_ms: u64,
}

impl LogMeta {
    fn fresh() -> Self {
        Self {
            last_seq: log::initial_seq(now_ms()),
            next_index: 0,
            first_index: 0,
            at_ms: 0,
        }
    }
}

/// Prefix of every session's log meta.
pub(super) const META_PREFIX: &str = "m:";
/// Prefix of every logged event.
pub(super) const ENTRY_PREFIX: &str = "e:";

fn meta_key(session: &str) -> String {
    format!("{META_PREFIX}{session}")
}

fn entry_prefix(session: &str) -> String {
    format!("{ENTRY_PREFIX}{session}:")
}

fn entry_key(session: &str, index: u64) -> String {
    format!("{ENTRY_PREFIX}{session}:{index:016}")
}

impl McpSessionHub {
    async fn log_meta(&self, session: &str) -> Result<LogMeta> {
        Ok(get_json(&self.storage(), &meta_key(session))
            .await?
            .unwrap_or_else(LogMeta::fresh))
    }

    /// The logged events of a session, oldest first, with their storage keys.
    async fn log_entries(&self, session: &str) -> Result<Vec<(String, LoggedEvent)>> {
        let entries = list(&self.storage(), &entry_prefix(session)).await?;
        Ok(entries
            .into_iter()
            .filter_map(|(key, value)| Some((key, serde_json::from_str(&value).ok()?)))
            .collect())
    }

    /// Publishes a message on a session's standalone stream.
    pub(super) async fn publish(&self, session: &str, data: Message) -> Result<bool> {
        let mut meta = self.log_meta(session).await?;
        let id = log::next_standalone_id(&mut meta.last_seq);
        self.deliver_and_log(session, meta, Event { id, data })
            .await
    }

    /// Keeps an event of a POST response stream (delivered at once if that stream was
    /// resumed).
    pub(super) async fn record(&self, session: &str, event: Event) -> Result<bool> {
        let meta = self.log_meta(session).await?;
        self.deliver_and_log(session, meta, event).await
    }

    /// Hands an event to the stream following its stream, then logs it (delivered or not)
    /// for replay, dropping the oldest beyond capacity.
    async fn deliver_and_log(
        &self,
        session: &str,
        mut meta: LogMeta,
        event: Event,
    ) -> Result<bool> {
        let tag = if event.id.stream.is_standalone() {
            tags::session(session)
        } else {
            tags::post_stream(session, event.id.stream.as_str())
        };
        let delivered = self.deliver(
            &tag,
            &Frame::Event {
                id: event.id.to_string(),
                data: event.data.to_string(),
            },
        );
        let now = now_ms();
        let kept = meta.next_index - meta.first_index;
        let overflow = LIMITS.overflow(usize::try_from(kept).unwrap_or(usize::MAX)) as u64;
        let dropped: Vec<String> = (meta.first_index..meta.first_index + overflow)
            .map(|index| entry_key(session, index))
            .collect();
        meta.first_index += overflow;
        let index = meta.next_index;
        meta.next_index += 1;
        meta.at_ms = now;
        let logged = LoggedEvent {
            event,
            at_ms: now,
            delivered,
        };
        put_json(
            &self.storage(),
            &[
                (entry_key(session, index), serde_json::to_string(&logged)?),
                (meta_key(session), serde_json::to_string(&meta)?),
            ],
        )
        .await?;
        delete_all(&self.storage(), dropped).await?;
        self.arm_sweep().await?;
        Ok(delivered)
    }

    /// Sends a new session stream its cursor, then its replay ([`log::replay`]), and marks
    /// what it took delivered.
    pub(super) async fn replay(
        &self,
        server: &WebSocket,
        session: &str,
        after: Option<&EventId>,
    ) -> Result<()> {
        let meta = self.log_meta(session).await?;
        let entries = self.log_entries(session).await?;
        let log::Replay { positions, cursor } = log::replay(
            entries.iter().map(|(_, logged)| logged),
            after,
            meta.last_seq,
            now_ms(),
            &LIMITS,
        );
        server.send_with_str(serde_json::to_string(&Frame::Cursor(cursor.to_string()))?)?;
        let mut newly_delivered = Vec::new();
        for position in positions {
            let Some((key, logged)) = entries.get(position) else {
                continue;
            };
            server.send_with_str(serde_json::to_string(&Frame::Event {
                id: logged.event.id.to_string(),
                data: logged.event.data.to_string(),
            })?)?;
            if !logged.delivered {
                let logged = LoggedEvent {
                    delivered: true,
                    ..logged.clone()
                };
                newly_delivered.push((key.clone(), serde_json::to_string(&logged)?));
            }
        }
        if !newly_delivered.is_empty() {
            put_json(&self.storage(), &newly_delivered).await?;
        }
        Ok(())
    }

    /// Forgets a session's log.
    pub(super) async fn forget_log(&self, session: &str) -> Result<()> {
        let mut keys: Vec<String> = list(&self.storage(), &entry_prefix(session))
            .await?
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        keys.push(meta_key(session));
        delete_all(&self.storage(), keys).await
    }
}
