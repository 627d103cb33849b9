//! The conformance suite's "everything" MCP server behind `SessionLayer`: on memory backends,
//! or on Redis when `REDIS_URL` is set (then several processes can serve one set of sessions).
//!
//! ```sh
//! cargo run --example everything            # serves http://127.0.0.1:8080/mcp
//! MCP_LISTEN=127.0.0.1:3000 cargo run --example everything
//! REDIS_URL=redis://127.0.0.1:6379/0 cargo run --example everything
//! ```
//!
//! With `MCP_AUTH_ISSUER` set it is an OAuth 2.1 resource server: only requests with a valid
//! bearer token of that issuer, meant for `MCP_RESOURCE` (this endpoint's URL) and granting
//! `MCP_AUTH_SCOPES`, are served ("Protecting your server" in the README).
//!
//! ```sh
//! MCP_AUTH_ISSUER=https://auth.example.com MCP_RESOURCE=http://127.0.0.1:8080/mcp \
//!   MCP_AUTH_SCOPES=mcp:tools cargo run --example everything
//! ```

use std::net::SocketAddr;

use axum::Router;
use everything_fixture::Everything;
use mcp_edge_session::auth::{AuthLayer, AuthSettings, ReqwestClient};
use mcp_edge_session::rmcp::RmcpService;
use mcp_edge_session::SessionLayer;
use tower::ServiceBuilder;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let listen: SocketAddr = std::env::var("MCP_LISTEN")
        .unwrap_or_else(|_| "127.0.0.1:8080".into())
        .parse()?;

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
    let server = RmcpService::new(|| Ok(Everything::new()));
    let app = match AuthSettings::from_lookup(|name| std::env::var(name).ok())? {
        Some(settings) => {
            tracing::info!(issuer = %settings.issuer, resource = %settings.resource, "bearer tokens required");
            let auth = AuthLayer::from_settings(&settings, ReqwestClient::new()?)?;
            // The metadata document is answered by the same service as the endpoint.
            let paths = auth.metadata_paths().to_vec();
            let mcp = ServiceBuilder::new()
                .layer(auth)
                .layer(layer)
                .service(server);
            paths.iter().fold(
                Router::new().route_service("/mcp", mcp.clone()),
                |app, path| app.route_service(path, mcp.clone()),
            )
        }
        None => {
            Router::new().route_service("/mcp", ServiceBuilder::new().layer(layer).service(server))
        }
    };

    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!("MCP server on http://{}/mcp", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
