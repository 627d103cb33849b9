//! Every key and channel the Redis backends use, under one prefix.

use crate::context::SessionId;

/// Key and channel names under a prefix (`mcp:` unless configured).
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A session: a hash of its record (`r`), expiry (`e`) and log level (`l`).
    pub(crate) fn session(&self, id: &SessionId) -> String {
        format!("{}s:{id}", self.prefix)
    }

    /// The last sequence number of a session's standalone stream.
    pub(crate) fn seq(&self, id: &SessionId) -> String {
        format!("{}q:{id}", self.prefix)
    }

    /// A session's event log: a list of logged events, oldest first.
    pub(crate) fn log(&self, id: &SessionId) -> String {
        format!("{}l:{id}", self.prefix)
    }

    /// Which process holds which of a session's streams: stream key → `<process> <token>`.
    pub(crate) fn holders(&self, id: &SessionId) -> String {
        format!("{}h:{id}", self.prefix)
    }

    /// Which process waits for which client response: request id → process.
    pub(crate) fn waiters(&self, id: &SessionId) -> String {
        format!("{}w:{id}", self.prefix)
    }

    /// A session's subscriptions: URI → until when (a sorted set).
    pub(crate) fn subscriptions(&self, id: &SessionId) -> String {
        format!("{}x:{id}", self.prefix)
    }

    /// The subscribers of a URI: session → until when (a sorted set). The length keeps one URI
    /// from being a prefix of another's key.
    pub(crate) fn subscribers(&self, uri: &str) -> String {
        format!("{}u:{}:{uri}", self.prefix, uri.len())
    }

    /// The channel of one process: notes for the streams and requests it holds.
    pub(crate) fn process_channel(&self, process: &str) -> String {
        format!("{}p:{process}", self.prefix)
    }

    /// The channel every process hears: broadcasts and closed sessions.
    pub(crate) fn broadcast_channel(&self) -> String {
        format!("{}b", self.prefix)
    }
}
