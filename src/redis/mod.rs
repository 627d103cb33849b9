//! Redis backends (feature `redis`, native): sessions and streams shared by every process
//! that connects to one Redis (7.0 or newer), so a native MCP server can run as several
//! processes behind a load balancer without sticky sessions.
//!
//! ```no_run
//! # async fn run() -> Result<(), redis::RedisError> {
//! let layer = mcp_edge_session::SessionLayer::redis("redis://127.0.0.1:6379/0").await?;
//! # let _ = layer; Ok(()) }
//! ```
//!
//! One connection per process ([`redis::aio::ConnectionManager`]: it reconnects by itself and,
//! speaking RESP3, subscribes again after it did) carries the commands of both backends and
//! the pub/sub messages of the hub. Every key and channel is under one prefix (`mcp:` unless
//! given to [`connect`]).

mod hub;
mod keys;
mod scripts;
mod store;

pub use hub::RedisHub;
pub use store::RedisStore;

use redis::{IntoConnectionInfo, ProtocolVersion};

use crate::SessionLayer;

/// How long a command or a connection attempt may take before the request gets 503.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "mcp:";

/// Connects to Redis at `url` (`redis://host:port/db`) and returns the store and the hub,
/// sharing one connection, with every key under `prefix`.
pub async fn connect(url: &str, prefix: &str) -> Result<(RedisStore, RedisHub), redis::RedisError> {
    let info = url.into_connection_info()?;
    // Pub/sub over the multiplexed connection needs RESP3's pushes.
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let client = redis::Client::open(info.set_redis_settings(settings))?;
    let (pushes, received) = tokio::sync::mpsc::unbounded_channel();
    // While Redis is away, requests fail within seconds (503) instead of waiting for it.
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_push_sender(pushes)
        .set_automatic_resubscription()
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT));
    let connection = client.get_connection_manager_with_config(config).await?;
    let keys = keys::Keys::new(prefix);
    let hub = RedisHub::start(connection.clone(), keys.clone(), received).await?;
    Ok((RedisStore::new(connection, keys), hub))
}

impl SessionLayer {
    /// A layer whose sessions and streams live in Redis at `url`, under the key prefix
    /// [`DEFAULT_PREFIX`]. Needs a tokio runtime.
    pub async fn redis(url: &str) -> Result<Self, redis::RedisError> {
        let (store, hub) = connect(url, DEFAULT_PREFIX).await?;
        Ok(Self::new(store, hub))
    }
}
