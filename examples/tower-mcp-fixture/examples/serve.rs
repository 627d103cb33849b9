//! The tower-mcp "everything" server over HTTP, served three ways (first argument):
//!
//! - `own`: tower-mcp's own `HttpTransport` (its sessions, its streams), as tower-mcp's
//!   conformance server runs;
//! - `layer`: `SessionLayer` in front of that transport, in stateless mode — the plain
//!   composition, with no adapter;
//! - `adapter`: `SessionLayer` in front of `mcp_edge_session::tower_mcp::TowerMcpService`,
//!   which drives the router per request.
//!
//! ```sh
//! MCP_LISTEN=127.0.0.1:3000 cargo run -p tower-mcp-fixture --example serve -- adapter
//! REDIS_URL=redis://127.0.0.1:6379/0 cargo run -p tower-mcp-fixture --example serve -- adapter
//! ```
//!
//! With `REDIS_URL` the layer keeps sessions and streams in Redis, so several processes can
//! serve one set of sessions.

use std::net::SocketAddr;

use axum::Router;
use mcp_edge_session::tower_mcp::TowerMcpService;
use mcp_edge_session::SessionLayer;
use tower::ServiceBuilder;
use tower_mcp::stateless::StatelessConfig;
use tower_mcp::HttpTransport;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let listen: SocketAddr = std::env::var("MCP_LISTEN")
        .unwrap_or_else(|_| "127.0.0.1:8080".into())
        .parse()?;
    let mode = std::env::args().nth(1).unwrap_or_else(|| "adapter".into());
    let layer = match std::env::var("REDIS_URL") {
        Ok(url) => {
            tracing::info!("sessions and streams in Redis at {url}");
            SessionLayer::redis(&url).await?
        }
        Err(_) => SessionLayer::memory(),
    };
    let layer = layer.with_executor(|task| {
        tokio::spawn(task);
    });

    let app = match mode.as_str() {
        "own" => HttpTransport::new(tower_mcp_fixture::router())
            .with_sampling()
            .into_router_at("/mcp"),
        "layer" => {
            let transport = HttpTransport::new(tower_mcp_fixture::router())
                .with_sampling()
                .stateless(StatelessConfig::new())
                .into_router_at("/mcp");
            Router::new().route_service(
                "/mcp",
                ServiceBuilder::new().layer(layer).service(transport),
            )
        }
        "adapter" => {
            let server = TowerMcpService::new(tower_mcp_fixture::router());
            Router::new().route_service("/mcp", ServiceBuilder::new().layer(layer).service(server))
        }
        other => return Err(format!("unknown mode {other:?} (own, layer, adapter)").into()),
    };

    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(
        "tower-mcp server ({mode}) on http://{}/mcp",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
