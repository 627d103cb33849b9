//! A tower-mcp [`McpRouter`](::tower_mcp::McpRouter) as a tower service (feature `tower-mcp`),
//! so a server written with tower-mcp runs behind [`SessionLayer`] — its sessions, streams
//! and server-to-client routing on any backend the layer has.
//!
//! [`TowerMcpService`] serves every HTTP request on a fresh session of the router, made
//! ready without a handshake (the layer did it), and nothing outlives the request. What the
//! handlers send flows through the layer:
//!
//! - `ctx.report_progress` and `ctx.send_log` become events of the POST's SSE response; log
//!   messages below the client's level (legacy: `logging/setLevel`; stateless: the request's
//!   `_meta` level, none without one) are dropped.
//! - `ctx.sample`, `ctx.elicit_form` / `elicit_url` and `ctx.request` (legacy era) go out on
//!   the POST stream with a fresh id; the client's answer, POSTed to any instance, comes back
//!   through the hub. They are available when the client declared the capability. (In the
//!   2026-07-28 era handlers return an input-required result instead.)
//! - `ctx.notify_tools_list_changed()` and its siblings reach every session and
//!   `subscriptions/listen` stream that asked, on any instance, through the layer's
//!   [`Notifier`](crate::Notifier).
//! - A legacy client's `notifications/cancelled`, POSTed to any instance, and (stateless era)
//!   a closed response stream cancel the request's `CancellationToken`.
//!
//! Handlers reach the layer's [`McpContext`](crate::McpContext),
//! [`Notifier`](crate::Notifier) and (legacy POSTs) [`StreamControl`](crate::StreamControl)
//! as tower-mcp extensions: `Extension<McpContext>` or `ctx.extension::<McpContext>()`.
//!
//! What a fresh session per request means for tower-mcp features: state a handler keeps in
//! tower-mcp's `SessionState`, its own `resources/subscribe` set (the layer keeps
//! subscriptions; announce updates with [`Notifier::resource_updated`]) and its in-memory
//! task store live for one request only; keep such state in your own store. Dynamic
//! registries (`with_dynamic_tools` and friends) register a notification sender per request
//! and are not supported.
//!
//! Native only: tower-mcp 0.25 requires tokio with all its features (mio, which does not
//! build for `wasm32-unknown-unknown`), and its router reads `std::time::Instant`, which
//! panics there.
//!
//! [`SessionLayer`]: crate::SessionLayer
//! [`Notifier::resource_updated`]: crate::Notifier::resource_updated

mod conversation;
mod requester;
mod schemas;
mod service;

pub use service::TowerMcpService;

/// The body of [`TowerMcpService`]'s responses.
pub type TowerMcpBody =
    http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, std::convert::Infallible>;
