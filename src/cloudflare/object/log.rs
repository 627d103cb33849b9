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

/// Keys per storage operation (the runtime takes at most 128).
const BATCH: usize = 128;

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
        let delivered = self.publish_many(&[session.to_owned()], &data).await?;
        Ok(delivered == 1)
    }

    /// Publishes a message on the standalone streams of many sessions, with a few storage
    /// operations for all of them (a broadcast reaches hundreds of sessions of a shard);
    /// returns how many had a stream that took it.
    pub(super) async fn publish_many(&self, sessions: &[String], data: &Message) -> Result<usize> {
        let mut metas = self.log_metas(sessions).await?;
        let events = sessions
            .iter()
            .zip(metas.iter_mut())
            .map(|(session, meta)| {
                let id = log::next_standalone_id(&mut meta.last_seq);
                (
                    session.as_str(),
                    Event {
                        id,
                        data: data.clone(),
                    },
                )
            });
        let events: Vec<(&str, Event)> = events.collect();
        self.deliver_and_log(events, metas).await
    }

    /// Keeps an event of a POST response stream (delivered at once if that stream was
    /// resumed).
    pub(super) async fn record(&self, session: &str, event: Event) -> Result<bool> {
        let metas = self.log_metas(&[session.to_owned()]).await?;
        Ok(self.deliver_and_log(vec![(session, event)], metas).await? == 1)
    }

    /// Where the logs of `sessions` stand, in their order (fresh for a session without one).
    async fn log_metas(&self, sessions: &[String]) -> Result<Vec<LogMeta>> {
        let mut found = std::collections::HashMap::new();
        for chunk in sessions.chunks(BATCH) {
            let keys: Vec<String> = chunk.iter().map(|s| meta_key(s)).collect();
            let map = self.storage().get_multiple(keys).await?;
            map.for_each(&mut |value, key| {
                if let (Some(key), Some(value)) = (key.as_string(), value.as_string()) {
                    if let Ok(meta) = serde_json::from_str::<LogMeta>(&value) {
                        found.insert(key, meta);
                    }
                }
            });
        }
        Ok(sessions
            .iter()
            .map(|s| found.remove(&meta_key(s)).unwrap_or_else(LogMeta::fresh))
            .collect())
    }

    /// Hands each event to the stream following its stream, then logs them all (delivered
    /// or not) for replay, dropping the oldest beyond capacity; returns how many were
    /// delivered.
    async fn deliver_and_log(
        &self,
        events: Vec<(&str, Event)>,
        metas: Vec<LogMeta>,
    ) -> Result<usize> {
        let now = now_ms();
        let (mut writes, mut dropped, mut delivered_count) = (Vec::new(), Vec::new(), 0);
        for ((session, event), mut meta) in events.into_iter().zip(metas) {
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
            delivered_count += usize::from(delivered);
            let kept = meta.next_index - meta.first_index;
            let overflow = LIMITS.overflow(usize::try_from(kept).unwrap_or(usize::MAX)) as u64;
            dropped.extend(
                (meta.first_index..meta.first_index + overflow).map(|i| entry_key(session, i)),
            );
            meta.first_index += overflow;
            let index = meta.next_index;
            meta.next_index += 1;
            meta.at_ms = now;
            let logged = LoggedEvent {
                event,
                at_ms: now,
                delivered,
            };
            writes.push((entry_key(session, index), serde_json::to_string(&logged)?));
            writes.push((meta_key(session), serde_json::to_string(&meta)?));
        }
        for chunk in writes.chunks(BATCH) {
            put_json(&self.storage(), chunk).await?;
        }
        delete_all(&self.storage(), dropped).await?;
        self.arm_sweep().await?;
        Ok(delivered_count)
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
