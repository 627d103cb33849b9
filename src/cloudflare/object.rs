//! [`McpSessionHub`]: the Durable Object behind [`DurableObjectHub`]. One instance per shard.
//!
//! It keeps nothing in memory that matters: streams are hibernatable WebSockets found again by
//! their tags (`get_websockets_with_tag`) and attachments after the object was evicted, and
//! the per-session event logs and the resource-subscription index live in its storage.
//!
//! [`DurableObjectHub`]: super::DurableObjectHub

// `#[durable_object]` generates the JS-facing constructor and handlers without docs.
#![allow(missing_docs)]

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::JsValue;
use worker::{
    durable_object, js_sys, DurableObject, Env, ListOptions, Request, Response, Result, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
};

use super::wire::{self, tags, Attachment, Call, Frame, Reply, StreamKind};
use crate::context::{now_ms, SessionId};
use crate::hub::{EventId, ListenFilter, StreamKey};

/// Events kept per session for replay and offline buffering.
const LOG_CAPACITY: u64 = 128;
/// Events older than this are not replayed, and are swept out of storage by an alarm.
const LOG_MAX_AGE_MS: u64 = 10 * 60 * 1000;

/// Largest WebSocket attachment the runtime keeps.
const MAX_ATTACHMENT_BYTES: usize = 2048;

/// Where a session's log stands.
#[derive(Serialize, Deserialize, Default, Debug)]
struct LogMeta {
    /// Sequence number of the last standalone event.
    next_seq: u64,
    /// Storage index the next entry gets.
    next_index: u64,
    /// Storage index of the oldest kept entry.
    first_index: u64,
}

/// One logged event.
#[derive(Serialize, Deserialize, Debug)]
struct Entry {
    id: String,
    data: String,
    at_ms: u64,
    delivered: bool,
}

fn meta_key(session: &str) -> String {
    format!("m:{session}")
}

fn entry_prefix(session: &str) -> String {
    format!("e:{session}:")
}

fn entry_key(session: &str, index: u64) -> String {
    format!("e:{session}:{index:016}")
}

/// The prefix of a URI's subscriber keys; the length keeps one URI from prefixing another.
fn subscribers_prefix(uri: &str) -> String {
    format!("u:{}:{uri}:", uri.len())
}

/// One subscriber of a URI; the value is when the subscription lapses.
fn subscriber_key(uri: &str, session: &str) -> String {
    format!("{}{session}", subscribers_prefix(uri))
}

/// A session's subscriptions (a [`Subscriptions`] value), to replace or remove them.
fn subscriptions_key(session: &str) -> String {
    format!("x:{session}")
}

/// The URIs a session is subscribed to, and until when.
#[derive(Serialize, Deserialize, Default, Debug)]
struct Subscriptions {
    uris: BTreeSet<String>,
    expires_at_ms: u64,
}

/// The stream hub Durable Object. Export it from your Worker (`pub use
/// mcp_edge_session::cloudflare::McpSessionHub;`) and bind it as `TMCP_DURABLE_OBJECT`.
#[durable_object]
pub struct McpSessionHub {
    state: worker::State,
    instance: String,
    constructed_at_ms: u64,
    /// Whether this instance knows the sweep alarm is set (saves a storage read per event).
    sweep_armed: Cell<bool>,
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

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Result<Option<T>> {
        match self.storage().get::<String>(key).await? {
            Some(text) => Ok(Some(serde_json::from_str(&text)?)),
            None => Ok(None),
        }
    }

    /// Writes several values (as JSON text) in one storage operation.
    async fn put_json(&self, values: &[(String, String)]) -> Result<()> {
        let object = js_sys::Object::new();
        for (key, value) in values {
            js_sys::Reflect::set(&object, &JsValue::from_str(key), &JsValue::from_str(value))?;
        }
        self.storage().put_multiple_raw(object).await
    }

    /// The log entries of a session, oldest first, with their storage keys.
    async fn entries(&self, session: &str) -> Result<Vec<(String, Entry)>> {
        let prefix = entry_prefix(session);
        let map = self
            .storage()
            .list_with_options(ListOptions::new().prefix(&prefix))
            .await?;
        let mut entries = Vec::new();
        map.for_each(&mut |value, key| {
            if let (Some(key), Some(value)) = (key.as_string(), value.as_string()) {
                if let Ok(entry) = serde_json::from_str::<Entry>(&value) {
                    entries.push((key, entry));
                }
            }
        });
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(entries)
    }

    /// Sends a frame to the newest socket under `tag`; whether one took it.
    fn deliver(&self, tag: &str, frame: &Frame) -> bool {
        let Ok(text) = serde_json::to_string(frame) else {
            return false;
        };
        let mut sockets: Vec<(u64, WebSocket)> = self
            .state
            .get_websockets_with_tag(tag)
            .into_iter()
            .map(|ws| {
                let opened = ws
                    .deserialize_attachment::<Attachment>()
                    .ok()
                    .flatten()
                    .map_or(0, |a| a.opened_at_ms);
                (opened, ws)
            })
            .collect();
        sockets.sort_by_key(|(opened, _)| std::cmp::Reverse(*opened));
        sockets
            .into_iter()
            .any(|(_, ws)| ws.send_with_str(&text).is_ok())
    }

    /// Sweeps out of storage what has lapsed: events past their replay age, subscriptions of
    /// sessions that were abandoned; re-arms the alarm while anything remains to watch.
    async fn sweep(&self) -> Result<Response> {
        self.sweep_armed.set(false);
        let now = now_ms();
        let event_cutoff = now.saturating_sub(LOG_MAX_AGE_MS);
        let (events_swept, events_kept) = self
            .sweep_prefix("e:", |value| {
                serde_json::from_str::<Entry>(value).map_or(true, |e| e.at_ms < event_cutoff)
            })
            .await?;
        let (subscribers_swept, subscribers_kept) = self
            .sweep_prefix("u:", |value| {
                value.parse::<u64>().map_or(true, |until| until <= now)
            })
            .await?;
        self.sweep_prefix("x:", |value| {
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

    /// Deletes the entries under `prefix` whose value `lapsed` says are done; returns how many
    /// were deleted and how many remain.
    async fn sweep_prefix(
        &self,
        prefix: &str,
        lapsed: impl Fn(&str) -> bool,
    ) -> Result<(usize, usize)> {
        // Page through the keys, so a large shard never loads all of them at once.
        const PAGE: usize = 512;
        let (mut swept, mut kept) = (0_usize, 0_usize);
        let mut start: Option<String> = None;
        loop {
            let mut options = ListOptions::new().prefix(prefix).limit(PAGE);
            if let Some(start) = &start {
                options = options.start(start);
            }
            let map = self.storage().list_with_options(options).await?;
            let (mut done, mut last, mut listed) = (Vec::new(), None, 0_usize);
            map.for_each(&mut |value, key| {
                listed += 1;
                let Some(key) = key.as_string() else { return };
                // `start` is inclusive: the previous page's last key comes again.
                if start.as_deref() == Some(key.as_str()) {
                    return;
                }
                match value.as_string() {
                    Some(value) if lapsed(&value) => done.push(key.clone()),
                    _ => kept += 1,
                }
                last = Some(key);
            });
            swept += done.len();
            for chunk in done.chunks(128) {
                self.storage().delete_multiple(chunk.to_vec()).await?;
            }
            match last {
                Some(last) if listed == PAGE => start = Some(last),
                _ => return Ok((swept, kept)),
            }
        }
    }

    /// Makes sure the sweep alarm will run (events older than their replay age are deleted).
    async fn arm_sweep(&self) -> Result<()> {
        if !self.sweep_armed.get() {
            if self.storage().get_alarm().await?.is_none() {
                self.storage()
                    .set_alarm(std::time::Duration::from_millis(LOG_MAX_AGE_MS))
                    .await?;
            }
            self.sweep_armed.set(true);
        }
        Ok(())
    }

    /// Appends an event to a session's log, dropping the oldest beyond capacity.
    async fn append(&self, session: &str, mut meta: LogMeta, entry: Entry) -> Result<()> {
        let index = meta.next_index;
        meta.next_index += 1;
        let expired: Vec<String> = (meta.first_index..meta.next_index.saturating_sub(LOG_CAPACITY))
            .map(|i| entry_key(session, i))
            .collect();
        meta.first_index = meta
            .first_index
            .max(meta.next_index.saturating_sub(LOG_CAPACITY));
        self.put_json(&[
            (entry_key(session, index), serde_json::to_string(&entry)?),
            (meta_key(session), serde_json::to_string(&meta)?),
        ])
        .await?;
        if !expired.is_empty() {
            self.storage().delete_multiple(expired).await?;
        }
        self.arm_sweep().await
    }

    /// Publishes a message on a session's standalone stream.
    async fn publish(&self, session: &str, data: String) -> Result<bool> {
        let mut meta: LogMeta = self.get_json(&meta_key(session)).await?.unwrap_or_default();
        meta.next_seq += 1;
        let id = EventId::new(StreamKey::standalone(), meta.next_seq);
        self.deliver_and_log(session, meta, &id, data).await
    }

    /// Hands an event to the newest stream following its stream, then logs it (delivered or
    /// not) for replay.
    async fn deliver_and_log(
        &self,
        session: &str,
        meta: LogMeta,
        id: &EventId,
        data: String,
    ) -> Result<bool> {
        let tag = if id.stream.is_standalone() {
            tags::session(session)
        } else {
            tags::post_stream(session, id.stream.as_str())
        };
        let frame = Frame::Event {
            id: id.to_string(),
            data: data.clone(),
        };
        let delivered = self.deliver(&tag, &frame);
        let entry = Entry {
            id: id.to_string(),
            data,
            at_ms: now_ms(),
            delivered,
        };
        self.append(session, meta, entry).await?;
        Ok(delivered)
    }

    async fn call(&self, call: Call) -> Result<Reply> {
        let delivered = match call {
            Call::Publish { session, data } => self.publish(&session, data).await?,
            Call::Broadcast { audience, data } => {
                let wanted = audience.to_audience();
                let text = serde_json::to_string(&Frame::Message(data.clone()))?;
                for ws in self.state.get_websockets_with_tag(tags::LISTENER) {
                    let filter = ws
                        .deserialize_attachment::<Attachment>()
                        .ok()
                        .flatten()
                        .and_then(|a| a.filter);
                    if filter.is_some_and(|f| ListenFilter::from(&f).admits(&wanted)) {
                        let _ = ws.send_with_str(&text);
                    }
                }
                let sessions: BTreeSet<String> = match &audience {
                    wire::WireAudience::Resource(uri) => {
                        self.subscribers(uri).await?.into_iter().collect()
                    }
                    // List changes reach the sessions with a stream open on this shard.
                    wire::WireAudience::List(_) => self
                        .state
                        .get_websockets()
                        .iter()
                        .filter_map(|ws| ws.deserialize_attachment::<Attachment>().ok().flatten())
                        .filter(|a| a.kind == StreamKind::Session)
                        .filter_map(|a| a.session)
                        .collect(),
                };
                // One session's failure must not keep the message from the others (and a
                // retried broadcast would duplicate it for those already served).
                let mut failed = 0_usize;
                for session in sessions {
                    if let Err(error) = self.publish(&session, data.clone()).await {
                        failed += 1;
                        worker::console_error!("broadcast to session {session} failed: {error}");
                    }
                }
                failed == 0
            }
            Call::Record { session, id, data } => {
                let id: EventId = id
                    .parse()
                    .map_err(|_| worker::Error::RustError("bad event id".into()))?;
                let meta: LogMeta = self
                    .get_json(&meta_key(&session))
                    .await?
                    .unwrap_or_default();
                self.deliver_and_log(&session, meta, &id, data).await?
            }
            Call::Subscriptions {
                session,
                uris,
                expires_at_ms,
            } => {
                self.set_subscriptions(&session, uris, expires_at_ms)
                    .await?;
                true
            }
            Call::Close { session } => {
                self.close(&session).await?;
                true
            }
            Call::Respond {
                session,
                request_id,
                data,
            } => {
                let tag = tags::waiting(&session, &request_id);
                let delivered = self.deliver(&tag, &Frame::Message(data));
                for ws in self.state.get_websockets_with_tag(&tag) {
                    let _ = ws.close(Some(1000), Some("answered"));
                }
                delivered
            }
        };
        Ok(Reply { delivered })
    }

    /// Replaces a session's subscriptions: one key per (URI, session), valid until
    /// `expires_at_ms`, so a broadcast lists just its URI's subscribers and skips lapsed ones.
    async fn set_subscriptions(
        &self,
        session: &str,
        uris: BTreeSet<String>,
        expires_at_ms: u64,
    ) -> Result<()> {
        let previous: Subscriptions = self
            .get_json(&subscriptions_key(session))
            .await?
            .unwrap_or_default();
        let dropped: Vec<String> = previous
            .uris
            .difference(&uris)
            .map(|uri| subscriber_key(uri, session))
            .collect();
        if !dropped.is_empty() {
            self.storage().delete_multiple(dropped).await?;
        }
        if uris.is_empty() {
            self.storage().delete(&subscriptions_key(session)).await?;
            return Ok(());
        }
        let mut values: Vec<(String, String)> = uris
            .iter()
            .map(|uri| (subscriber_key(uri, session), expires_at_ms.to_string()))
            .collect();
        values.push((
            subscriptions_key(session),
            serde_json::to_string(&Subscriptions {
                uris,
                expires_at_ms,
            })?,
        ));
        self.put_json(&values).await?;
        self.arm_sweep().await
    }

    /// The live subscribers of a URI; lapsed ones are deleted on the way.
    async fn subscribers(&self, uri: &str) -> Result<Vec<String>> {
        let prefix = subscribers_prefix(uri);
        let map = self
            .storage()
            .list_with_options(ListOptions::new().prefix(&prefix))
            .await?;
        let now = now_ms();
        let (mut live, mut lapsed) = (Vec::new(), Vec::new());
        map.for_each(&mut |value, key| {
            let Some(key) = key.as_string() else { return };
            let until = value
                .as_string()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            match key.strip_prefix(&prefix) {
                Some(session) if until > now => live.push(session.to_owned()),
                _ => lapsed.push(key),
            }
        });
        if !lapsed.is_empty() {
            self.storage().delete_multiple(lapsed).await?;
        }
        Ok(live)
    }

    async fn close(&self, session: &str) -> Result<()> {
        for ws in self.state.get_websockets() {
            let owned = ws
                .deserialize_attachment::<Attachment>()
                .ok()
                .flatten()
                .is_some_and(|a| a.session.as_deref() == Some(session));
            if owned {
                let _ = ws.close(Some(1000), Some("session closed"));
            }
        }
        let mut keys: Vec<String> = self
            .entries(session)
            .await?
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        keys.push(meta_key(session));
        self.set_subscriptions(session, BTreeSet::new(), 0).await?;
        keys.push(subscriptions_key(session));
        for chunk in keys.chunks(128) {
            self.storage().delete_multiple(chunk.to_vec()).await?;
        }
        Ok(())
    }

    /// Accepts a stream WebSocket: tags and attachment let the object find it again after
    /// hibernation; a session stream first gets its cursor, then what it should replay.
    async fn open(&self, query: &HashMap<String, String>) -> Result<Response> {
        let bad = |what: &str| Response::error(format!("bad stream request: {what}"), 400);
        let session = query.get("session").map(String::as_str);
        if session.is_some_and(|s| s.parse::<SessionId>().is_err()) {
            return bad("session");
        }
        let mut attachment = Attachment {
            kind: StreamKind::Session,
            session: session.map(str::to_owned),
            request_id: None,
            filter: None,
            opened_at_ms: now_ms(),
        };
        let mut after = None;
        let tag = match (query.get("kind").map(String::as_str), session) {
            (Some("session"), Some(session)) => {
                if let Some(raw) = query.get("after") {
                    match raw.parse::<EventId>() {
                        Ok(id) => after = Some(id),
                        Err(_) => return bad("after"),
                    }
                }
                // A resumed POST stream follows only its own events.
                match after.as_ref().filter(|a| !a.stream.is_standalone()) {
                    Some(after) => tags::post_stream(session, after.stream.as_str()),
                    None => tags::session(session),
                }
            }
            (Some("listen"), _) => {
                let Some(Ok(filter)) = query.get("filter").map(|f| serde_json::from_str(f)) else {
                    return bad("filter");
                };
                attachment.kind = StreamKind::Listen;
                attachment.filter = Some(filter);
                tags::LISTENER.to_owned()
            }
            (Some("await"), Some(session)) => {
                let Some(request_id) = query.get("request_id") else {
                    return bad("request_id");
                };
                attachment.kind = StreamKind::Await;
                attachment.request_id = Some(request_id.clone());
                tags::waiting(session, request_id)
            }
            _ => return bad("kind"),
        };
        // The runtime keeps at most 2 KiB of attachment per socket.
        if serde_json::to_string(&attachment)?.len() > MAX_ATTACHMENT_BYTES {
            return bad("attachment too large (too many resource subscriptions?)");
        }

        let pair = WebSocketPair::new()?;
        let server = pair.server;
        self.state.accept_websocket_with_tags(&server, &[&tag]);
        let started = match (attachment.kind, session) {
            (StreamKind::Session, Some(session)) => {
                self.start_session_stream(&server, &attachment, session, after.as_ref())
                    .await
            }
            _ => server.serialize_attachment(&attachment),
        };
        if let Err(error) = started {
            // Leave no tagged socket behind that would swallow deliveries.
            let _ = server.close(Some(1011), Some("stream setup failed"));
            return Err(error);
        }
        Response::from_websocket(pair.client)
    }

    async fn start_session_stream(
        &self,
        server: &WebSocket,
        attachment: &Attachment,
        session: &str,
        after: Option<&EventId>,
    ) -> Result<()> {
        server.serialize_attachment(attachment)?;
        self.replay(server, session, after).await
    }

    async fn replay(
        &self,
        server: &WebSocket,
        session: &str,
        after: Option<&EventId>,
    ) -> Result<()> {
        let meta: LogMeta = self.get_json(&meta_key(session)).await?.unwrap_or_default();
        // A resumed POST stream follows only its own events; a GET stream the standalone ones.
        let followed = after.map_or_else(StreamKey::standalone, |a| a.stream.clone());
        let oldest = now_ms().saturating_sub(LOG_MAX_AGE_MS);
        let mut frames = Vec::new();
        let mut updated = Vec::new();
        let mut first_seq = None;
        for (key, mut entry) in self.entries(session).await? {
            let Ok(id) = entry.id.parse::<EventId>() else {
                continue;
            };
            let wanted = match after {
                Some(after) if id.stream == after.stream => id.seq > after.seq,
                _ => !entry.delivered && id.stream == followed,
            };
            if !wanted || entry.at_ms < oldest {
                continue;
            }
            first_seq.get_or_insert(id.seq);
            frames.push(serde_json::to_string(&Frame::Event {
                id: entry.id.clone(),
                data: entry.data.clone(),
            })?);
            if !entry.delivered {
                entry.delivered = true;
                updated.push((key, serde_json::to_string(&entry)?));
            }
        }
        // Resuming from the cursor must not skip what is replayed now.
        let cursor = after.map_or_else(
            || {
                let before_replay = first_seq.map_or(meta.next_seq, |seq| seq.saturating_sub(1));
                EventId::new(StreamKey::standalone(), before_replay).to_string()
            },
            ToString::to_string,
        );
        server.send_with_str(serde_json::to_string(&Frame::Cursor(cursor))?)?;
        for frame in frames {
            server.send_with_str(frame)?;
        }
        if !updated.is_empty() {
            self.put_json(&updated).await?;
        }
        Ok(())
    }
}
