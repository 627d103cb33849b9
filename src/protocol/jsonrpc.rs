//! The JSON-RPC envelope: classifying incoming messages without parsing their payloads, and
//! writing the few messages the layer answers itself.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// Error codes the layer answers with.
pub(crate) mod code {
    pub(crate) const PARSE_ERROR: i64 = -32700;
    pub(crate) const INVALID_REQUEST: i64 = -32600;
    pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
    pub(crate) const INVALID_PARAMS: i64 = -32602;
    pub(crate) const INTERNAL_ERROR: i64 = -32603;
    /// Transport-level rejections (bad headers, wrong method), as the official SDKs answer.
    pub(crate) const SERVER_ERROR: i64 = -32000;
    /// Unknown, expired or terminated session.
    pub(crate) const SESSION_NOT_FOUND: i64 = -32001;
    /// A backend (store or hub) failed.
    pub(crate) const BACKEND_UNAVAILABLE: i64 = -32003;
    /// A stateless request's headers disagree with its body.
    pub(crate) const HEADER_MISMATCH: i64 = -32020;
    /// A request needs a client capability the client did not declare (stateless era).
    #[cfg_attr(not(any(feature = "rmcp", feature = "tower-mcp")), allow(dead_code))]
    pub(crate) const MISSING_CLIENT_CAPABILITY: i64 = -32021;
    /// Unsupported protocol version (stateless era).
    pub(crate) const UNSUPPORTED_VERSION: i64 = -32022;
}

/// What a JSON-RPC message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Request,
    Notification,
    Response,
}

/// One JSON-RPC message of a POST body, with its payload left unparsed.
#[derive(Debug)]
pub(crate) struct Envelope {
    pub(crate) kind: Kind,
    pub(crate) method: Option<String>,
    pub(crate) id: Option<Box<RawValue>>,
    pub(crate) params: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(default, borrow)]
    jsonrpc: Option<&'a str>,
    // Present means `Some`, even when it is `null`: a request with a null id is no
    // notification.
    #[serde(default, deserialize_with = "present")]
    id: Option<Box<RawValue>>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<Box<RawValue>>,
    #[serde(default, borrow)]
    result: Option<&'a RawValue>,
    #[serde(default, borrow)]
    error: Option<&'a RawValue>,
}

fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(deserializer).map(Some)
}

/// Why a body is not JSON-RPC.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EnvelopeError {
    /// Not JSON at all (-32700).
    Parse(String),
    /// JSON, but not a JSON-RPC 2.0 message (-32600).
    Invalid(&'static str),
}

/// A parsed POST body: one message or a batch.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) messages: Vec<Envelope>,
    pub(crate) batch: bool,
}

impl Incoming {
    pub(crate) fn parse(body: &[u8]) -> Result<Self, EnvelopeError> {
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        let batch = first == Some(&b'[');
        let peeks: Vec<Peek<'_>> = if batch {
            serde_json::from_slice(body)
        } else {
            serde_json::from_slice(body).map(|one| vec![one])
        }
        .map_err(|e| {
            if e.is_data() {
                EnvelopeError::Invalid("not a JSON-RPC 2.0 message")
            } else {
                EnvelopeError::Parse(e.to_string())
            }
        })?;
        if peeks.is_empty() {
            return Err(EnvelopeError::Invalid("empty batch"));
        }
        let messages = peeks
            .into_iter()
            .map(Envelope::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Self { messages, batch })
    }

    /// The only message of a non-batch body.
    pub(crate) fn single(&self) -> Option<&Envelope> {
        match self.messages.as_slice() {
            [one] if !self.batch => Some(one),
            _ => None,
        }
    }

    pub(crate) fn has_requests(&self) -> bool {
        self.messages.iter().any(|m| m.kind == Kind::Request)
    }

    pub(crate) fn any_method(&self, method: &str) -> bool {
        self.messages
            .iter()
            .any(|m| m.method.as_deref() == Some(method))
    }
}

impl TryFrom<Peek<'_>> for Envelope {
    type Error = EnvelopeError;

    fn try_from(peek: Peek<'_>) -> Result<Self, EnvelopeError> {
        if peek.jsonrpc != Some("2.0") {
            return Err(EnvelopeError::Invalid("jsonrpc must be \"2.0\""));
        }
        let kind = match (&peek.method, &peek.id) {
            (Some(_), Some(_)) => Kind::Request,
            (Some(_), None) => Kind::Notification,
            (None, _) if peek.result.is_some() || peek.error.is_some() => Kind::Response,
            (None, _) => return Err(EnvelopeError::Invalid("neither request nor response")),
        };
        // A request's id is a string or a number; a response's may also be null (the answer
        // to a request whose id could not be read).
        match (kind, peek.id.as_deref().map(json_kind)) {
            (_, None | Some(JsonKind::String | JsonKind::Number)) => {}
            (Kind::Response, Some(JsonKind::Null)) => {}
            _ => return Err(EnvelopeError::Invalid("id must be a string or a number")),
        }
        if !matches!(
            peek.params.as_deref().map(json_kind),
            None | Some(JsonKind::Object | JsonKind::Array)
        ) {
            return Err(EnvelopeError::Invalid(
                "params must be an object or an array",
            ));
        }
        Ok(Self {
            kind,
            method: peek.method,
            id: peek.id,
            params: peek.params,
        })
    }
}

/// The type of a JSON value, from its first character.
#[derive(Clone, Copy, PartialEq, Eq)]
enum JsonKind {
    String,
    Number,
    Null,
    Object,
    Array,
    Bool,
}

fn json_kind(raw: &RawValue) -> JsonKind {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'"') => JsonKind::String,
        Some(b'{') => JsonKind::Object,
        Some(b'[') => JsonKind::Array,
        Some(b'n') => JsonKind::Null,
        Some(b't' | b'f') => JsonKind::Bool,
        _ => JsonKind::Number,
    }
}

impl Envelope {
    /// The request id as a canonical string, used to route client responses.
    pub(crate) fn id_key(&self) -> Option<String> {
        self.id.as_deref().map(id_key)
    }

    /// Parses the params into `T` (absent params parse as `null`).
    pub(crate) fn params_as<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        match &self.params {
            Some(raw) => serde_json::from_str(raw.get()),
            None => serde_json::from_str("null"),
        }
    }
}

/// The canonical routing key of a JSON-RPC id: its compact JSON text.
pub(crate) fn id_key(id: &RawValue) -> String {
    match serde_json::from_str::<Value>(id.get()) {
        Ok(value) => value.to_string(),
        Err(_) => id.get().to_owned(),
    }
}

/// `{"jsonrpc":"2.0","id":…,"error":{"code":…,"message":…}}`; `id` is `null` when unknown.
pub(crate) fn error_body(
    id: Option<&RawValue>,
    code: i64,
    message: &str,
    data: Option<&Value>,
) -> String {
    let id = id.map_or("null", RawValue::get);
    let message = Value::from(message);
    match data {
        Some(data) => format!(
            r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":{message},"data":{data}}}}}"#
        ),
        None => format!(
            r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":{message}}}}}"#
        ),
    }
}

/// `{"jsonrpc":"2.0","id":…,"result":…}`.
pub(crate) fn result_body(id: &RawValue, result: &Value) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{}}}"#,
        id.get(),
        result
    )
}

/// A notification `{"jsonrpc":"2.0","method":…,"params":…}`.
pub(crate) fn notification(method: &str, params: Value) -> Value {
    serde_json::json!({ "jsonrpc": "2.0", "method": method, "params": params })
}

/// What an inner service answered to one request, read from its JSON-RPC response.
#[derive(Debug)]
pub(crate) enum Answer {
    Result(Value),
    Error { code: i64 },
}

impl Answer {
    /// Finds the response to request `id` in a JSON value (one message or a batch).
    pub(crate) fn find(value: &Value, id: &RawValue) -> Option<Self> {
        let wanted: Value = serde_json::from_str(id.get()).ok()?;
        let one = |msg: &Value| -> Option<Self> {
            if msg.get("id") != Some(&wanted) {
                return None;
            }
            if let Some(result) = msg.get("result") {
                return Some(Self::Result(result.clone()));
            }
            let code = msg.get("error")?.get("code")?.as_i64()?;
            Some(Self::Error { code })
        };
        match value {
            Value::Array(items) => items.iter().find_map(one),
            other => one(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_messages() {
        let one = Incoming::parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).unwrap();
        assert_eq!(one.single().unwrap().kind, Kind::Request);
        let batch = Incoming::parse(
            br#" [{"jsonrpc":"2.0","method":"notifications/initialized"},
                  {"jsonrpc":"2.0","id":"a","result":{}}]"#,
        )
        .unwrap();
        assert!(batch.batch && batch.single().is_none());
        assert_eq!(batch.messages[0].kind, Kind::Notification);
        assert_eq!(batch.messages[1].kind, Kind::Response);
        assert_eq!(batch.messages[1].id_key().as_deref(), Some("\"a\""));
    }

    #[test]
    fn rejects_non_jsonrpc() {
        assert!(matches!(
            Incoming::parse(b"{nope"),
            Err(EnvelopeError::Parse(_))
        ));
        assert!(matches!(
            Incoming::parse(br#"{"id":1,"method":"x"}"#),
            Err(EnvelopeError::Invalid(_))
        ));
        assert!(matches!(
            Incoming::parse(br#"{"jsonrpc":"2.0","id":1}"#),
            Err(EnvelopeError::Invalid(_))
        ));
        assert!(matches!(
            Incoming::parse(b"[]"),
            Err(EnvelopeError::Invalid(_))
        ));
        assert!(matches!(
            Incoming::parse(b"42"),
            Err(EnvelopeError::Invalid(_))
        ));
    }

    #[test]
    fn id_keys_are_canonical() {
        let raw: Box<RawValue> = serde_json::from_str(" 7 ").unwrap();
        assert_eq!(id_key(&raw), "7");
    }

    #[test]
    fn error_body_escapes() {
        let body = error_body(None, -32000, "bad \"thing\"", None);
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["error"]["message"], "bad \"thing\"");
        assert_eq!(value["id"], Value::Null);
    }
}
