//! The conformance suite's "everything" MCP server written with tower-mcp: the tools,
//! resources and prompts the official suites call, as one [`McpRouter`].
//!
//! It is an ordinary tower-mcp server: builders for tools, resources and prompts; logging,
//! progress, sampling and elicitation through tower-mcp's request context; multi-round-trip
//! results (2026-07-28) with `requestState` sealed by tower-mcp's [`RequestStateCodec`]. The
//! example `serve` puts it behind tower-mcp's own `HttpTransport`, behind
//! `mcp_edge_session::SessionLayer` in front of that transport, or behind the layer through
//! `mcp_edge_session::tower_mcp::TowerMcpService`.
//!
//! tower-mcp needs tokio with every feature, so this server runs natively only.

mod content;
mod continuations;
mod interactive;
mod media;

use std::time::Duration;

use tower_mcp::protocol::DeprecationInfo;
use tower_mcp::{McpRouter, RequestStateCodec};

/// How long clients may cache list and read results (2026-07-28 caching hints).
const CACHE_TTL_MS: u64 = 60_000;

/// The key `requestState` is sealed with. Every process serving the endpoint must share it;
/// this one is public and only fit for tests.
const DEV_REQUEST_STATE_KEY: &[u8] = b"tower-mcp-fixture-development-request-state-key";

/// How long a sealed `requestState` stays valid.
const REQUEST_STATE_TTL: Duration = Duration::from_secs(300);

/// The "everything" server: every tool, resource, template and prompt the suites call.
pub fn router() -> McpRouter {
    let codec = RequestStateCodec::new(DEV_REQUEST_STATE_KEY, REQUEST_STATE_TTL)
        .expect("the development key is long enough");
    let router = McpRouter::new()
        .server_info("tower-mcp-everything", env!("CARGO_PKG_VERSION"))
        .instructions("Conformance fixture written with tower-mcp.")
        .list_ttl(CACHE_TTL_MS)
        .read_ttl(CACHE_TTL_MS)
        .logging_deprecated(DeprecationInfo {
            since: Some("2026-07-28".into()),
            message: Some("Use structured tool output instead of log notifications.".into()),
            remove_in: None,
            replacement: None,
        })
        .with_extension(codec);
    let router = content::tools()
        .into_iter()
        .chain(interactive::tools())
        .chain(continuations::tools())
        .fold(router, McpRouter::tool);
    let router = content::resources()
        .into_iter()
        .fold(router, McpRouter::resource);
    let router = content::templates()
        .into_iter()
        .fold(router, McpRouter::resource_template);
    content::prompts()
        .into_iter()
        .chain(continuations::prompts())
        .fold(router, McpRouter::prompt)
}
