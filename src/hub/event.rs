//! SSE event ids: unique per session, and naming the stream they belong to.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Message;

/// Which stream of a session an event belongs to: the standalone stream (`g`) or one POST
/// response stream (`p` + random hex).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamKey(Arc<str>);

impl StreamKey {
    /// The session's standalone (GET) stream.
    pub fn standalone() -> Self {
        Self(Arc::from("g"))
    }

    /// A fresh key for one POST response stream.
    pub fn new_post() -> Self {
        let random = uuid::Uuid::new_v4().simple().to_string();
        Self(format!("p{}", &random[..12]).into())
    }

    /// Whether this is the standalone stream.
    pub fn is_standalone(&self) -> bool {
        &*self.0 == "g"
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An SSE event id: `<stream>.<sequence>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EventId {
    /// The stream the event belongs to.
    pub stream: StreamKey,
    /// Position in that stream; 0 is the priming position before any event.
    pub seq: u64,
}

impl EventId {
    /// The id of event `seq` of `stream`.
    pub fn new(stream: StreamKey, seq: u64) -> Self {
        Self { stream, seq }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.stream.0, self.seq)
    }
}

/// A `Last-Event-ID` that this crate did not issue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an event id issued by this server")]
pub struct InvalidEventId;

impl FromStr for EventId {
    type Err = InvalidEventId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (stream, seq) = s.rsplit_once('.').ok_or(InvalidEventId)?;
        let valid_stream = stream == "g"
            || (stream.len() > 1
                && stream.starts_with('p')
                && stream[1..].bytes().all(|b| b.is_ascii_hexdigit()));
        if !valid_stream {
            return Err(InvalidEventId);
        }
        let seq = seq.parse().map_err(|_| InvalidEventId)?;
        Ok(Self::new(StreamKey(stream.into()), seq))
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One SSE event: its id and its JSON-RPC message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The event id.
    pub id: EventId,
    /// The message.
    pub data: Message,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let post = StreamKey::new_post();
        assert_ne!(post, StreamKey::new_post());
        for id in [
            EventId::new(StreamKey::standalone(), 0),
            EventId::new(post, 42),
        ] {
            assert_eq!(id.to_string().parse::<EventId>().unwrap(), id);
        }
        for bad in ["", "g", "g.x", "q.1", "p.1", "pzz.1", "g.-1"] {
            assert!(bad.parse::<EventId>().is_err(), "{bad}");
        }
    }
}
