//! # mcp-edge-session
//!
//! A [tower](https://docs.rs/tower) middleware that makes any MCP Streamable-HTTP server edge-ready: put
//! [`SessionLayer`] in front of a stateless MCP service and it keeps legacy sessions in a
//! [`SessionStore`], long-lived streams in a [`StreamHub`], and hands the inner service one
//! era-neutral [`McpContext`] per request — whether the client speaks the sessionful protocol
//! (2025-03-26 … 2025-11-25) or the stateless one (2026-07-28).
//!
//! ## Quick start
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::{BodyExt, Full};
//! use mcp_edge_session::{McpContext, SessionLayer};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! // A (toy) stateless MCP server: it answers initialize and reads the layer's context.
//! let server = service_fn(|request: Request<Full<Bytes>>| async move {
//!     let context = request.extensions().get::<McpContext>().cloned();
//!     let body = request.into_body().collect().await?.to_bytes();
//!     let message: serde_json::Value = serde_json::from_slice(&body)?;
//!     let answer = serde_json::json!({
//!         "jsonrpc": "2.0", "id": message["id"],
//!         "result": {
//!             "protocolVersion": "2025-11-25", "capabilities": {},
//!             "serverInfo": { "name": "toy", "version": "1" },
//!             "instructions": format!("client: {:?}", context.and_then(|c| c.client_info)),
//!         }
//!     });
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
//!         Response::builder()
//!             .header("content-type", "application/json")
//!             .body(Full::new(Bytes::from(answer.to_string())))?,
//!     )
//! });
//!
//! let service = ServiceBuilder::new().layer(SessionLayer::memory()).service(server);
//! let request = Request::post("http://localhost/mcp")
//!     .header("host", "localhost")
//!     .header("accept", "application/json, text/event-stream")
//!     .header("content-type", "application/json")
//!     .body(Full::new(Bytes::from(r#"{"jsonrpc":"2.0","id":1,"method":"initialize",
//!         "params":{"protocolVersion":"2025-11-25","capabilities":{},
//!                   "clientInfo":{"name":"demo","version":"1.0"}}}"#)))?;
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//! assert!(response.headers().contains_key("mcp-session-id"));
//! # Ok(())
//! # }
//! ```
//!
//! ## What the layer owns
//! `initialize` (the session id is minted after the inner service answers, and stored before
//! the client sees it), `logging/setLevel`, `resources/subscribe` / `unsubscribe`, GET streams
//! with priming, keep-alive and `Last-Event-ID` replay, DELETE, `subscriptions/listen`, and the
//! JSON-RPC responses clients POST back to the server-to-client requests of a [`Notifier`]
//! (answers to requests the inner service sent itself go on to it). Everything else reaches
//! the inner service, with [`McpContext`], a [`Notifier`] and a [`StreamControl`] in the
//! request extensions.
//!
//! ## The inner service's side
//! The inner service sees only POSTs, never the layer's `Mcp-Session-Id` (a legacy request
//! looks sessionless to it; the session's facts are in [`McpContext`]), and may answer with
//! JSON or an SSE stream carrying progress, log messages and server-to-client requests before
//! the answer. Client answers to a [`Notifier`]'s requests travel through the hub to any
//! instance; answers to requests it sent on its own are POSTed on to it. A session id it puts
//! in its answer is dropped. Two adapters turn MCP frameworks into such a service:
//! `rmcp::RmcpService` (feature `rmcp`, natively and in a Worker) and
//! `tower_mcp::TowerMcpService` (feature `tower-mcp`, natively).
//!
//! ## Backends
//! [`MemoryStore`] and [`MemoryHub`] keep everything in one process (no tokio: they also run
//! inside a single wasm isolate). With the `cloudflare` feature, `cloudflare::KvSessionStore`
//! keeps sessions in Workers KV and `cloudflare::DurableObjectHub` keeps streams in the sharded
//! `cloudflare::McpSessionHub` Durable Object; `SessionLayer::cloudflare(&env)` wires both.
//! [`contract`] holds the checks every backend must pass.
//!
//! ## Authentication
//! With the `auth` feature, `auth::AuthLayer` in front of [`SessionLayer`] makes the endpoint
//! an OAuth 2.1 resource server (RFC 9728 metadata, bearer challenges, JWTs checked against the
//! issuer's keys, introspection); sessions are then bound to the verified token's subject.

// docs.rs (`--cfg docsrs`, nightly) marks every feature-gated item with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
#[cfg(any(feature = "rmcp", feature = "tower-mcp"))]
mod answer;
#[cfg(feature = "auth")]
#[cfg_attr(docsrs, doc(cfg(feature = "auth")))]
pub mod auth;
pub mod body;
#[cfg(feature = "cloudflare")]
#[cfg_attr(docsrs, doc(cfg(feature = "cloudflare")))]
pub mod cloudflare;
mod context;
pub mod contract;
pub mod hub;
mod inner;
mod layer;
mod legacy;
mod notify;
mod post_stream;
pub mod protocol;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
#[cfg(feature = "rmcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "rmcp")))]
pub mod rmcp;
mod security;
mod service;
mod sse;
mod stateless;
pub mod store;
#[cfg(all(feature = "tower-mcp", not(target_arch = "wasm32")))]
#[cfg_attr(
    docsrs,
    doc(cfg(all(feature = "tower-mcp", not(target_arch = "wasm32"))))
)]
pub mod tower_mcp;

pub use body::SessionBody;
pub use context::{InvalidSessionId, LogLevel, McpContext, SessionId, SessionRecord, SessionTag};
pub use hub::{Audience, ListKind, MemoryHub, StreamHub};
pub use layer::{Executor, PrincipalFn, SessionLayer};
pub use notify::{Cancellation, ClientRequestError, ClientResponse, Notifier, OutgoingRequest};
pub use post_stream::StreamControl;
pub use protocol::version::Era;
pub use service::{InnerBody, SessionService};
pub use store::{MemoryStore, SessionStore};
