//! Header names used by MCP Streamable HTTP (both eras).

use http::HeaderName;

/// `Mcp-Session-Id`: the session a legacy request belongs to.
pub const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
/// `MCP-Protocol-Version`: the protocol version the request speaks.
pub const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
/// `Mcp-Method`: the JSON-RPC method of a stateless request, mirrored in a header.
pub const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
/// `Mcp-Name`: the tool, prompt or resource a stateless request names, mirrored in a header.
pub const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");
/// `Last-Event-ID`: the SSE event after which a client resumes a stream.
pub const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// `application/json`.
pub const APPLICATION_JSON: &str = "application/json";
/// `text/event-stream`.
pub const TEXT_EVENT_STREAM: &str = "text/event-stream";
