//! What the layer knows about a request's client, handed to the inner service.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::protocol::version::Era;

/// Longest session id the layer accepts from a client, in bytes.
const MAX_SESSION_ID_LEN: usize = 128;

/// A legacy session id: visible ASCII (0x21–0x7E), at most 128 bytes.
///
/// Ids minted here are 32 hex digits of a random (CSPRNG) UUID v4.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(Arc<str>);

/// A string that cannot be a session id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a session id is 1 to 128 visible ASCII characters")]
pub struct InvalidSessionId;

impl SessionId {
    /// A new random session id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string().into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short tag for logs: session ids are bearer secrets, so logs name a session by the
    /// first 32 bits of a hash of its id, which tells sessions apart without revealing them.
    pub fn log_tag(&self) -> SessionTag {
        SessionTag((fnv1a(self.as_str()) >> 32) as u32)
    }
}

/// FNV-1a (64 bits) of a string: cheap, stable across processes and platforms.
pub(crate) fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How logs name a session; see [`SessionId::log_tag`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTag(u32);

impl fmt::Display for SessionTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s-{:08x}", self.0)
    }
}

impl FromStr for SessionId {
    type Err = InvalidSessionId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = !s.is_empty()
            && s.len() <= MAX_SESSION_ID_LEN
            && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if valid {
            Ok(Self(s.into()))
        } else {
            Err(InvalidSessionId)
        }
    }
}

impl TryFrom<String> for SessionId {
    type Error = InvalidSessionId;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> Self {
        id.0.as_ref().to_owned()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Debug output ends up in logs and panics: it names the session by its tag only.
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.log_tag())
    }
}

/// Severity of `notifications/message`, in the order of RFC 5424 (least severe first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl LogLevel {
    /// Whether a message of severity `level` passes this threshold.
    pub fn admits(self, level: LogLevel) -> bool {
        level >= self
    }
}

/// The era-neutral context of one request, put into the request's extensions by the layer.
///
/// Legacy requests get it from the session record (loaded from the [`SessionStore`]); stateless
/// requests from their `_meta`. Read it in a handler from `http::request::Parts::extensions`.
///
/// [`SessionStore`]: crate::SessionStore
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct McpContext {
    /// Which wire era the request speaks.
    pub era: Era,
    /// The legacy session (`None` for stateless requests).
    pub session_id: Option<SessionId>,
    /// The negotiated (legacy) or declared (stateless) protocol version.
    pub protocol_version: String,
    /// The client's `Implementation` (`name`, `version`, …), when it sent one.
    pub client_info: Option<Value>,
    /// The client's capabilities (`{}` when it declared none).
    pub client_capabilities: Value,
    /// The minimum severity the client wants for `notifications/message`; `None` means the
    /// client never asked (stateless: the server must not log to it at all).
    pub log_level: Option<LogLevel>,
    /// The authenticated principal the session is bound to, if principal binding is on.
    pub principal: Option<String>,
}

impl McpContext {
    /// Whether the client declared a capability, e.g. `"sampling"` or `"elicitation"`.
    pub fn client_supports(&self, capability: &str) -> bool {
        self.client_capabilities.get(capability).is_some()
    }

    /// Whether a log message of `level` may be sent to this client.
    pub fn should_log(&self, level: LogLevel) -> bool {
        self.log_level.is_some_and(|min| min.admits(level))
    }
}

/// The one stored record of a legacy session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionRecord {
    /// The session's id.
    pub id: SessionId,
    /// The protocol version negotiated at `initialize`.
    pub protocol_version: String,
    /// The client's `Implementation` from `initialize`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_info: Option<Value>,
    /// The client's capabilities from `initialize`.
    #[serde(default)]
    pub client_capabilities: Value,
    /// Set by `logging/setLevel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    /// The principal the session is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// When the session expires unless used again, milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
}

impl SessionRecord {
    /// A fresh record, as stored after a successful `initialize`.
    pub fn new(
        id: SessionId,
        protocol_version: impl Into<String>,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Self {
        Self {
            id,
            protocol_version: protocol_version.into(),
            client_info: None,
            client_capabilities: Value::Object(Default::default()),
            log_level: None,
            principal: None,
            created_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
        }
    }

    /// Whether the record has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms >= self.expires_at_ms
    }

    /// Whether less than half of the idle timeout remains, so a request should extend it. This
    /// keeps steady traffic at one store read and no write per request.
    pub fn needs_refresh(&self, now_ms: u64, ttl_ms: u64) -> bool {
        self.expires_at_ms.saturating_sub(now_ms) < ttl_ms / 2
    }

    /// The context a request in this session runs with.
    pub fn context(&self) -> McpContext {
        McpContext {
            era: Era::Legacy,
            session_id: Some(self.id.clone()),
            protocol_version: self.protocol_version.clone(),
            client_info: self.client_info.clone(),
            client_capabilities: self.client_capabilities.clone(),
            log_level: self.log_level,
            principal: self.principal.clone(),
        }
    }
}

/// Milliseconds since the Unix epoch (works on wasm32, where `std::time` does not).
pub(crate) fn now_ms() -> u64 {
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids() {
        let id = SessionId::generate();
        assert_eq!(id.as_str().len(), 32);
        assert_ne!(id, SessionId::generate());
        assert!("abc-123".parse::<SessionId>().is_ok());
        assert!("".parse::<SessionId>().is_err());
        assert!("has space".parse::<SessionId>().is_err());
        assert!("é".parse::<SessionId>().is_err());
        assert!("x".repeat(129).parse::<SessionId>().is_err());
    }

    #[test]
    fn log_tags_name_a_session_without_its_id() {
        let id: SessionId = "0123456789abcdef0123456789abcdef".parse().unwrap();
        let tag = id.log_tag().to_string();
        assert_eq!(tag.len(), 10, "{tag}");
        assert_eq!(tag, id.log_tag().to_string(), "stable");
        assert_ne!(tag, SessionId::generate().log_tag().to_string());
        assert!(!format!("{id:?}").contains(id.as_str()));
    }

    #[test]
    fn refresh_only_past_half() {
        let record = SessionRecord::new(SessionId::generate(), "2025-06-18", 0, 1000);
        assert!(!record.needs_refresh(400, 1000));
        assert!(record.needs_refresh(600, 1000));
        assert!(record.is_expired(1000));
    }

    #[test]
    fn log_levels() {
        assert!(LogLevel::Warning.admits(LogLevel::Error));
        assert!(!LogLevel::Warning.admits(LogLevel::Info));
        let level: LogLevel = serde_json::from_str("\"critical\"").unwrap();
        assert_eq!(level, LogLevel::Critical);
    }

    #[test]
    fn record_round_trips() {
        let mut record = SessionRecord::new(SessionId::generate(), "2025-11-25", 5, 10);
        record.log_level = Some(LogLevel::Notice);
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(
            serde_json::from_str::<SessionRecord>(&json).unwrap(),
            record
        );
    }
}
