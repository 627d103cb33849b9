//! What the Worker and the hub Durable Object say to each other: RPC bodies, the frames sent
//! over stream WebSockets, WebSocket attachments, and which shard a session lives on.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::hub::{Audience, ListKind, ListenFilter, StreamKey};

/// The RPC path of the hub object.
pub(crate) const RPC_PATH: &str = "/rpc";
/// The WebSocket path of the hub object.
pub(crate) const STREAM_PATH: &str = "/stream";
/// A path answering the instance's identity (used to observe hibernation).
pub(crate) const INSTANCE_PATH: &str = "/instance";
/// A path that runs the storage sweep now (what the alarm runs).
pub(crate) const SWEEP_PATH: &str = "/sweep";
/// The origin used for requests to the object (any URL works; the path matters).
pub(crate) const ORIGIN: &str = "https://mcp-session-hub";

/// One operation on the hub object.
#[derive(Serialize, Deserialize, Debug)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Call {
    Publish {
        session: String,
        data: String,
    },
    Broadcast {
        audience: WireAudience,
        data: String,
    },
    Record {
        session: String,
        id: String,
        data: String,
    },
    /// Answers `done: false` when the session is at its limit.
    Subscribe {
        session: String,
        uri: String,
        until_ms: u64,
        limit: usize,
    },
    Unsubscribe {
        session: String,
        uri: String,
    },
    ExtendSubscriptions {
        session: String,
        until_ms: u64,
    },
    Close {
        session: String,
    },
    Respond {
        session: String,
        request_id: String,
        data: String,
    },
}

/// The answer to a [`Call`].
#[derive(Serialize, Deserialize, Debug, Default)]
pub(crate) struct Reply {
    /// Whether a message reached a stream (or a waiting request), or a subscription was made.
    #[serde(default, alias = "delivered")]
    pub(crate) done: bool,
}

/// A broadcast audience.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireAudience {
    Resource(String),
    List(WireList),
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WireList {
    Tools,
    Prompts,
    Resources,
}

impl WireAudience {
    pub(crate) fn from_audience(audience: &Audience) -> Option<Self> {
        match audience {
            Audience::Session(_) => None,
            Audience::ResourceSubscribers(uri) => Some(Self::Resource(uri.clone())),
            Audience::ListChanged(kind) => Some(Self::List(match kind {
                ListKind::Tools => WireList::Tools,
                ListKind::Prompts => WireList::Prompts,
                ListKind::Resources => WireList::Resources,
            })),
        }
    }

    pub(crate) fn to_audience(&self) -> Audience {
        match self {
            Self::Resource(uri) => Audience::ResourceSubscribers(uri.clone()),
            Self::List(WireList::Tools) => Audience::ListChanged(ListKind::Tools),
            Self::List(WireList::Prompts) => Audience::ListChanged(ListKind::Prompts),
            Self::List(WireList::Resources) => Audience::ListChanged(ListKind::Resources),
        }
    }
}

/// A listener's filter, as it travels and as it is attached to the listener's WebSocket.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub(crate) struct WireFilter {
    #[serde(default)]
    pub(crate) tools: bool,
    #[serde(default)]
    pub(crate) prompts: bool,
    #[serde(default)]
    pub(crate) resources: bool,
    #[serde(default)]
    pub(crate) uris: BTreeSet<String>,
}

impl From<&ListenFilter> for WireFilter {
    fn from(filter: &ListenFilter) -> Self {
        Self {
            tools: filter.tools_list_changed,
            prompts: filter.prompts_list_changed,
            resources: filter.resources_list_changed,
            uris: filter.resource_uris.clone(),
        }
    }
}

impl From<&WireFilter> for ListenFilter {
    fn from(filter: &WireFilter) -> Self {
        Self {
            tools_list_changed: filter.tools,
            prompts_list_changed: filter.prompts,
            resources_list_changed: filter.resources,
            resource_uris: filter.uris.clone(),
        }
    }
}

/// What a stream WebSocket is for.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StreamKind {
    /// A legacy session's GET stream (also a resumed POST stream).
    Session,
    /// A stateless `subscriptions/listen` stream.
    Listen,
    /// A request waiting for the client's answer to a server-to-client request.
    Await,
}

/// Attached to every accepted WebSocket; survives hibernation.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct Attachment {
    pub(crate) kind: StreamKind,
    #[serde(default)]
    pub(crate) session: Option<String>,
    /// The stream a session socket follows (standalone or one resumed POST stream).
    #[serde(default)]
    pub(crate) stream: Option<StreamKey>,
    #[serde(default)]
    pub(crate) request_id: Option<String>,
    #[serde(default)]
    pub(crate) filter: Option<WireFilter>,
    /// Orders sockets by when they opened (see [`crate::hub::routing`]).
    #[serde(alias = "opened_at_ms")]
    pub(crate) opened: u64,
}

/// A frame on a stream WebSocket, hub → Worker.
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Frame {
    /// First frame of a session stream: the id for the priming event.
    Cursor(String),
    /// An event of a session stream.
    Event { id: String, data: String },
    /// A message for a listener, or the client's answer for an await stream.
    Message(String),
}

/// Tags under which the hub finds WebSockets again after hibernation.
pub(crate) mod tags {
    pub(crate) fn session(session: &str) -> String {
        format!("s:{session}")
    }
    pub(crate) fn post_stream(session: &str, key: &str) -> String {
        format!("k:{session}:{key}")
    }
    pub(crate) fn waiting(session: &str, request_id: &str) -> String {
        format!("r:{session}:{request_id}")
    }
    pub(crate) const LISTENER: &str = "l";
}

/// The shard (named object instance) a session lives on: FNV-1a of its id.
pub(crate) fn shard_of(session: &str, shards: u32) -> u32 {
    let hash = crate::context::fnv1a(session);
    u32::try_from(hash % u64::from(shards.max(1))).unwrap_or(0)
}

/// The object name of a shard.
pub(crate) fn shard_name(shard: u32) -> String {
    format!("mcp-session-hub-{shard}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_spread_over_shards() {
        let mut seen = [0u32; 8];
        for n in 0..800 {
            seen[shard_of(&format!("session-{n}"), 8) as usize] += 1;
        }
        assert!(seen.iter().all(|&count| count > 50), "{seen:?}");
        assert_eq!(shard_of("abc", 1), 0);
        assert_eq!(shard_of("abc", 8), shard_of("abc", 8));
    }

    #[test]
    fn frames_round_trip() {
        let frame = serde_json::to_string(&Frame::Event {
            id: "g.1".into(),
            data: "{}".into(),
        })
        .unwrap();
        assert!(matches!(
            serde_json::from_str(&frame).unwrap(),
            Frame::Event { .. }
        ));
        let call = serde_json::to_string(&Call::Close {
            session: "s".into(),
        })
        .unwrap();
        assert_eq!(call, r#"{"op":"close","session":"s"}"#);
    }
}
