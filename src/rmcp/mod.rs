//! An rmcp [`ServerHandler`](rmcp::ServerHandler) as a tower service (feature `rmcp`), so a
//! server written with rmcp's `#[tool_router]` runs behind [`SessionLayer`] natively and
//! inside a Cloudflare Worker.
//!
//! [`RmcpService`] serves every HTTP request by running the handler for that request's
//! message(s) over a transport of its own, and nothing outlives the request: sessions,
//! streams and server-to-client routing are the layer's. What the handler sends flows through
//! the layer:
//!
//! - `peer.notify_progress` and `peer.notify_logging_message` become events of the POST's
//!   SSE response; log messages below the client's level (legacy: `logging/setLevel`;
//!   stateless: the request's `_meta` level, none without one) are dropped.
//! - `peer.create_message`, `create_elicitation` and `list_roots` go out on the POST stream
//!   with a fresh id; the client's answer, POSTed to any instance, comes back through the
//!   hub. (In the 2026-07-28 era rmcp refuses them: handlers return an input-required
//!   result instead.)
//! - `peer.notify_tool_list_changed()`, `notify_prompt_list_changed()` and
//!   `notify_resource_list_changed()` reach every session and `subscriptions/listen` stream
//!   that asked, on any instance, through the layer's [`Notifier`](crate::Notifier) (a list
//!   change concerns every client, not the request's own stream).
//! - A legacy client's `notifications/cancelled`, POSTed to any instance, and (stateless era)
//!   a closed response stream cancel the handler.
//!
//! The handler finds what rmcp's own HTTP service gives it: `http::request::Parts` in
//! `RequestContext::extensions`, and in the parts' extensions the layer's
//! [`McpContext`](crate::McpContext), [`Notifier`](crate::Notifier) and (legacy POSTs)
//! [`StreamControl`](crate::StreamControl).
//!
//! Natively rmcp runs on the caller's tokio runtime. In a Worker (wasm32) rmcp is built with
//! its `local` feature and [`RmcpService`] drives it inside the request's own future, so the
//! handler may await JavaScript promises (KV, `fetch`, timers) but must not use
//! `tokio::time` or `std::time::Instant`, which need what a Worker does not have.
//!
//! [`SessionLayer`]: crate::SessionLayer

mod exchange;
mod handler;
mod messages;
mod runtime;
mod service;
mod transport;

/// The body of [`RmcpService`]'s responses.
pub type RmcpBody =
    http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, std::convert::Infallible>;
pub use service::RmcpService;
