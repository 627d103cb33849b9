//! The wire rules of MCP Streamable HTTP that the layer enforces: header names, protocol
//! versions and eras, the JSON-RPC envelope, and the error responses the layer answers with.
//!
//! Nothing here touches a backend; everything is a pure function of the request.

pub(crate) mod accept;
pub mod headers;
pub(crate) mod jsonrpc;
pub(crate) mod meta;
pub(crate) mod rejection;
pub mod version;
