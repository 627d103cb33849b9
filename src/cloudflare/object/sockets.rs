//! The object's stream WebSockets: accepting them (tagged and with an attachment, so they are
//! found again after hibernation), handing frames to the one that should get them
//! ([`crate::hub::routing`]), and closing them.

use std::collections::{BTreeSet, HashMap};

use worker::{Response, Result, WebSocket, WebSocketPair};

use super::McpSessionHub;
use crate::cloudflare::wire::{tags, Attachment, Frame, StreamKind, WireAudience};
use crate::context::{now_ms, SessionId};
use crate::hub::{log, routing, EventId, ListenFilter, Message};

/// Largest WebSocket attachment the runtime keeps.
const MAX_ATTACHMENT_BYTES: usize = 2048;

fn attachment(ws: &WebSocket) -> Option<Attachment> {
    ws.deserialize_attachment::<Attachment>().ok().flatten()
}

impl McpSessionHub {
    /// Orders sockets by when they opened, also within one millisecond.
    fn next_opened(&self) -> u64 {
        let opened = (now_ms() * 1000).max(self.last_opened.get() + 1);
        self.last_opened.set(opened);
        opened
    }

    /// The socket under `tag` that gets its frames: the newest; older ones are closed so
    /// their clients resume.
    fn route(&self, tag: &str) -> Option<WebSocket> {
        let sockets = self.state.get_websockets_with_tag(tag);
        if sockets.len() <= 1 {
            // Nothing to order (reading an attachment is a structured-clone round trip, paid
            // per session on a broadcast).
            return sockets.into_iter().next();
        }
        let sockets = sockets
            .into_iter()
            .map(|ws| (attachment(&ws).map_or(0, |a| a.opened), ws))
            .collect();
        let (receiver, replaced) = routing::newest_receives(sockets);
        for ws in replaced {
            let _ = ws.close(Some(1000), Some("replaced by a newer stream"));
        }
        receiver
    }

    /// Sends a frame to the socket under `tag` that gets it; whether one took it.
    pub(super) fn deliver(&self, tag: &str, frame: &Frame) -> bool {
        let Ok(text) = serde_json::to_string(frame) else {
            return false;
        };
        self.route(tag)
            .is_some_and(|ws| ws.send_with_str(&text).is_ok())
    }

    /// Answers a waiting request and closes its socket.
    pub(super) fn respond(&self, session: &str, request_id: &str, data: String) -> bool {
        let tag = tags::waiting(session, request_id);
        let delivered = self.deliver(&tag, &Frame::Message(data));
        for ws in self.state.get_websockets_with_tag(&tag) {
            let _ = ws.close(Some(1000), Some("answered"));
        }
        delivered
    }

    /// Sends a broadcast to every listener whose filter admits it.
    pub(super) fn tell_listeners(&self, audience: &WireAudience, data: &Message) -> Result<()> {
        let wanted = audience.to_audience();
        let text = serde_json::to_string(&Frame::Message(data.to_string()))?;
        for ws in self.state.get_websockets_with_tag(tags::LISTENER) {
            let admits = attachment(&ws)
                .and_then(|a| a.filter)
                .is_some_and(|f| ListenFilter::from(&f).admits(&wanted));
            if admits {
                let _ = ws.send_with_str(&text);
            }
        }
        Ok(())
    }

    /// The sessions a list change reaches on this shard ([`routing::list_change_reaches`]).
    pub(super) fn sessions_following_list_changes(&self) -> BTreeSet<String> {
        self.state
            .get_websockets()
            .iter()
            .filter_map(attachment)
            .filter(|a| {
                a.kind == StreamKind::Session
                    && a.stream.as_ref().is_none_or(routing::list_change_reaches)
            })
            .filter_map(|a| a.session)
            .collect()
    }

    /// Closes every socket of a session.
    pub(super) fn close_sockets(&self, session: &str) {
        for ws in self.state.get_websockets() {
            if attachment(&ws).is_some_and(|a| a.session.as_deref() == Some(session)) {
                let _ = ws.close(Some(1000), Some("session closed"));
            }
        }
    }

    /// Accepts a stream WebSocket. A session stream replaces the one following the same
    /// stream, and first gets its cursor, then what it should replay.
    pub(super) async fn open(&self, query: &HashMap<String, String>) -> Result<Response> {
        let bad = |what: &str| Response::error(format!("bad stream request: {what}"), 400);
        let session = query.get("session").map(String::as_str);
        if session.is_some_and(|s| s.parse::<SessionId>().is_err()) {
            return bad("session");
        }
        let mut attachment = Attachment {
            kind: StreamKind::Session,
            session: session.map(str::to_owned),
            stream: None,
            request_id: None,
            filter: None,
            opened: self.next_opened(),
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
                let followed = log::followed_stream(after.as_ref());
                let tag = if followed.is_standalone() {
                    tags::session(session)
                } else {
                    tags::post_stream(session, followed.as_str())
                };
                attachment.stream = Some(followed);
                tag
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
                self.start_session_stream(&server, &attachment, &tag, session, after.as_ref())
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
        tag: &str,
        session: &str,
        after: Option<&EventId>,
    ) -> Result<()> {
        server.serialize_attachment(attachment)?;
        // The new socket is the newest: routing ends the one it replaces.
        self.route(tag);
        self.replay(server, session, after).await
    }
}
