//! Cloudflare backends (feature `cloudflare`): sessions in Workers KV, streams in a sharded
//! Durable Object that accepts the Worker's WebSockets with the hibernation API.
//!
//! ```ignore
//! // In a Worker (see examples/worker): one line re-exports the Durable Object class…
//! pub use mcp_edge_session::cloudflare::McpSessionHub;
//! // …and `serve` is the whole `fetch`: the layer from the Worker's bindings, the executor,
//! // the bad-header answer and the end of streams on disconnect.
//! #[worker::event(fetch)]
//! async fn fetch(req: web_sys::Request, env: Env, ctx: Context) -> worker::Result<http::Response<WorkerBody>> {
//!     serve(req, &env, ctx, |layer| layer.layer(my_server)).await
//! }
//! ```
//!
//! Bindings default to the names `@tmcp/session-manager-durable-objects` uses
//! (`TMCP_SESSION_INFO`, `TMCP_DURABLE_OBJECT`), so its `wrangler.toml` can be reused.

mod disconnect;
mod entry;
#[cfg(feature = "auth")]
mod fetch;
mod hub;
mod kv;
#[cfg(feature = "auth")]
mod oauth_provider;
mod object;
mod recent;
mod request;
mod socket;
mod stats;
mod wire;

pub use disconnect::EndOnDisconnect;
pub use entry::{allowed_hosts, serve, serve_request, WorkerBody, MCP_PATH};
#[cfg(feature = "auth")]
pub use fetch::WorkerFetch;
pub use hub::DurableObjectHub;
pub use kv::KvSessionStore;
#[cfg(feature = "auth")]
pub use oauth_provider::WorkersOAuthTokens;
pub use object::McpSessionHub;
pub use request::{read_request, UnreadableRequest};
pub use stats::{backend_stats, BackendStats};

use std::sync::Arc;

use crate::SessionLayer;

/// Default binding of the KV namespace holding session records.
pub const DEFAULT_KV_BINDING: &str = "TMCP_SESSION_INFO";
/// Default binding of the Durable Object namespace of [`McpSessionHub`].
pub const DEFAULT_DURABLE_OBJECT_BINDING: &str = "TMCP_DURABLE_OBJECT";
/// Default number of hub shards (named Durable Object instances).
pub const DEFAULT_SHARDS: u32 = 8;

/// Where the Cloudflare backends find their bindings.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bindings {
    /// The KV namespace binding.
    pub kv: String,
    /// The Durable Object namespace binding.
    pub durable_object: String,
    /// How many hub shards sessions are spread over.
    pub shards: u32,
}

impl Default for Bindings {
    fn default() -> Self {
        Self {
            kv: DEFAULT_KV_BINDING.into(),
            durable_object: DEFAULT_DURABLE_OBJECT_BINDING.into(),
            shards: DEFAULT_SHARDS,
        }
    }
}

impl Bindings {
    /// Uses another KV binding.
    #[must_use]
    pub fn with_kv(mut self, binding: impl Into<String>) -> Self {
        self.kv = binding.into();
        self
    }

    /// Uses another Durable Object binding.
    #[must_use]
    pub fn with_durable_object(mut self, binding: impl Into<String>) -> Self {
        self.durable_object = binding.into();
        self
    }

    /// Spreads sessions over `shards` hub instances (at least one).
    #[must_use]
    pub fn with_shards(mut self, shards: u32) -> Self {
        self.shards = shards.max(1);
        self
    }
}

impl SessionLayer {
    /// A layer over Workers KV and the [`McpSessionHub`] Durable Object, with the default
    /// bindings (`TMCP_SESSION_INFO`, `TMCP_DURABLE_OBJECT`).
    pub fn cloudflare(env: &worker::Env) -> worker::Result<Self> {
        Self::cloudflare_with(env, &Bindings::default())
    }

    /// A layer over Workers KV and the [`McpSessionHub`] Durable Object, with the given
    /// bindings.
    pub fn cloudflare_with(env: &worker::Env, bindings: &Bindings) -> worker::Result<Self> {
        let store = KvSessionStore::new(env.kv(&bindings.kv)?);
        let hub = DurableObjectHub::new(
            env.durable_object(&bindings.durable_object)?,
            bindings.shards,
        );
        Ok(Self::from_shared(Arc::new(store), Arc::new(hub)))
    }
}
