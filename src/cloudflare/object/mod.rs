//! [`McpSessionHub`]: the Durable Object behind [`DurableObjectHub`]. One instance per shard.
//!
//! It keeps nothing in memory that matters: streams are hibernatable WebSockets found again by
//! their tags (`get_websockets_with_tag`) and attachments after the object was evicted, and
//! the per-session event logs and the resource-subscription index live in its storage. The
//! rules — ids, replay, which stream gets a message — are the hub's ([`crate::hub::log`],
//! [`crate::hub::routing`]); this object supplies storage and sockets.
//!
//! [`DurableObjectHub`]: super::DurableObjectHub

// `#[durable_object]` generates the JS-facing constructor and handlers without docs.
#![allow(missing_docs)]

mod log;
mod sockets;
mod storage;
mod subscriptions;

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};

use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, WebSocket,
    WebSocketIncomingMessage,
};

use super::wire::{self, Call, Reply};
use crate::context::now_ms;
use crate::hub::log::LoggedEvent;
use crate::hub::{Event, EventId, Message};
use log::{LogMeta, ENTRY_PREFIX, LIMITS, META_PREFIX};
use storage::sweep_prefix;
use subscriptions::{Subscriptions, SESSION_PREFIX, SUBSCRIBER_PREFIX};

/// The stream hub Durable Object. Export it from your Worker (`pub use
/// mcp_edge_session::cloudflare::McpSessionHub;`) and bind it as `TMCP_DURABLE_OBJECT`.
#[durable_object]
pub struct McpSessionHub {
    state: worker::State,
    instance: String,
    constructed_at_ms: u64,
    /// Whether this instance knows the sweep alarm is set (saves a storage read per event).
    sweep_armed: Cell<bool>,
    /// The order given to the last socket opened (see `sockets.rs`).
    last_opened: Cell<u64>,
}

impl std::fmt::Debug for McpSessionHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpSessionHub")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl DurableObject for McpSessionHub {
    fn new(state: worker::State, _env: Env) -> Self {
        Self {
            state,
            instance: uuid::Uuid::new_v4().simple().to_string(),
            constructed_at_ms: now_ms(),
            sweep_armed: Cell::new(false),
            last_opened: Cell::new(0),
        }
    }

    async fn fetch(&self, mut request: Request) -> Result<Response> {
        let url = request.url()?;
        match url.path() {
            wire::RPC_PATH => {
                let call: Call = request.json().await?;
                Response::from_json(&self.call(call).await?)
            }
            wire::STREAM_PATH => {
                let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
                self.open(&query).await
            }
            wire::INSTANCE_PATH => Response::from_json(&serde_json::json!({
                "instance": self.instance,
                "constructed_at_ms": self.constructed_at_ms,
                "websockets": self.state.get_websockets().len(),
            })),
            wire::SWEEP_PATH => self.sweep().await,
            _ => Response::error("not found", 404),
        }
    }

    /// The sweep alarm.
    async fn alarm(&self) -> Result<Response> {
        self.sweep().await
    }

    async fn websocket_message(
        &self,
        _ws: WebSocket,
        _message: WebSocketIncomingMessage,
    ) -> Result<()> {
        // Workers only listen on these sockets.
        Ok(())
    }

    async fn websocket_close(
        &self,
        ws: WebSocket,
        _code: usize,
        _reason: String,
        _clean: bool,
    ) -> Result<()> {
        // Complete the closing handshake so the runtime releases the socket.
        let _ = ws.close(Some(1000), Some("closed"));
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        let _ = ws.close(Some(1011), Some("error"));
        Ok(())
    }
}

impl McpSessionHub {
    fn storage(&self) -> worker::Storage {
        self.state.storage()
    }

    async fn call(&self, call: Call) -> Result<Reply> {
        let done = match call {
            Call::Publish { session, data } => self.publish(&session, Message::from(data)).await?,
            Call::Broadcast { audience, data } => {
                let data = Message::from(data);
                self.tell_listeners(&audience, &data)?;
                let sessions: BTreeSet<String> = match &audience {
                    wire::WireAudience::Resource(uri) => {
                        self.subscribers(uri).await?.into_iter().collect()
                    }
                    wire::WireAudience::List(_) => self.sessions_following_list_changes(),
                };
                let sessions: Vec<String> = sessions.into_iter().collect();
                self.publish_many(&sessions, &data).await?;
                true
            }
            Call::Record { session, id, data } => {
                let id: EventId = id
                    .parse()
                    .map_err(|_| worker::Error::RustError("bad event id".into()))?;
                let event = Event {
                    id,
                    data: Message::from(data),
                };
                self.record(&session, event).await?
            }
            Call::Subscribe {
                session,
                uri,
                until_ms,
                limit,
            } => self.subscribe(&session, uri, until_ms, limit).await?,
            Call::Unsubscribe { session, uri } => {
                self.unsubscribe(&session, &uri).await?;
                true
            }
            Call::ExtendSubscriptions { session, until_ms } => {
                self.extend_subscriptions(&session, until_ms).await?;
                true
            }
            Call::Close { session } => {
                self.close_sockets(&session);
                self.forget_log(&session).await?;
                self.forget_subscriptions(&session).await?;
                true
            }
            Call::Respond {
                session,
                request_id,
                data,
            } => self.respond(&session, &request_id, data),
        };
        Ok(Reply { done })
    }

    /// Sweeps out of storage what has lapsed: events past their replay age, logs with nothing
    /// left to replay, subscriptions of sessions that were abandoned; re-arms the alarm while
    /// anything remains to watch.
    async fn sweep(&self) -> Result<Response> {
        self.sweep_armed.set(false);
        let storage = self.storage();
        let now = now_ms();
        let (events_swept, events_kept) = sweep_prefix(&storage, ENTRY_PREFIX, |value| {
            serde_json::from_str::<LoggedEvent>(value).map_or(true, |e| !LIMITS.keeps(e.at_ms, now))
        })
        .await?;
        sweep_prefix(&storage, META_PREFIX, |value| {
            serde_json::from_str::<LogMeta>(value).map_or(true, |m| !LIMITS.keeps(m.at_ms, now))
        })
        .await?;
        let (subscribers_swept, subscribers_kept) =
            sweep_prefix(&storage, SUBSCRIBER_PREFIX, |value| {
                value.parse::<u64>().map_or(true, |until| until <= now)
            })
            .await?;
        sweep_prefix(&storage, SESSION_PREFIX, |value| {
            serde_json::from_str::<Subscriptions>(value).map_or(true, |s| s.expires_at_ms <= now)
        })
        .await?;
        if events_kept + subscribers_kept > 0 {
            self.arm_sweep().await?;
        }
        Response::ok(format!(
            "swept {events_swept} events and {subscribers_swept} subscriptions"
        ))
    }

    /// Makes sure the sweep alarm will run.
    async fn arm_sweep(&self) -> Result<()> {
        if !self.sweep_armed.get() {
            if self.storage().get_alarm().await?.is_none() {
                self.storage()
                    .set_alarm(std::time::Duration::from_millis(LIMITS.max_age_ms))
                    .await?;
            }
            self.sweep_armed.set(true);
        }
        Ok(())
    }
}
