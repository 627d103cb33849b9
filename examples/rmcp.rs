//! An [rmcp](https://docs.rs/rmcp) server, run stateless, behind `SessionLayer`: the layer
//! keeps the sessions, rmcp only answers requests.
//!
//! ```sh
//! cargo run --example rmcp            # serves http://127.0.0.1:8081/mcp
//! MCP_LISTEN=127.0.0.1:3000 cargo run --example rmcp
//! ```
//!
//! The `whoami` tool reads the layer's [`McpContext`] out of the `http::request::Parts` that
//! rmcp puts into every request's extensions, so it knows the client that initialized the
//! session even though rmcp itself keeps no state between requests.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use mcp_edge_session::{McpContext, SessionLayer};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use tower::ServiceBuilder;
use tracing_subscriber::EnvFilter;

/// The MCP server: two tools, no state of its own.
#[derive(Clone)]
struct Demo {
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, serde::Deserialize, rmcp::schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct AddArgs {
    /// The first addend.
    a: i64,
    /// The second addend.
    b: i64,
}

#[tool_router]
impl Demo {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "Who is calling: the client, protocol version and session the layer knows"
    )]
    async fn whoami(&self, context: RequestContext<RoleServer>) -> Result<String, ErrorData> {
        let mcp = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<McpContext>())
            .ok_or_else(|| {
                ErrorData::internal_error("no McpContext: is SessionLayer in front?", None)
            })?;
        let field = |name: &str| {
            mcp.client_info
                .as_ref()
                .and_then(|info| info.get(name))
                .and_then(|value| value.as_str())
                .unwrap_or("?")
                .to_owned()
        };
        Ok(format!(
            "client: {} {}\nprotocol: {}\nsession: {}\nlog level: {:?}",
            field("name"),
            field("version"),
            mcp.protocol_version,
            mcp.session_id.as_ref().map_or("none", |id| id.as_str()),
            mcp.log_level,
        ))
    }

    #[tool(description = "Add two integers")]
    async fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> String {
        a.saturating_add(b).to_string()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Demo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// rmcp's Streamable-HTTP service, stateless: no rmcp sessions, a fresh `Demo` per request.
fn rmcp_service() -> StreamableHttpService<Demo, NeverSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        // SSE answers (rmcp's default); the layer adds keep-alive to the streams it passes on.
        .with_sse_keep_alive(None)
        // SessionLayer already does DNS-rebinding protection (Host and Origin checks, loopback
        // by default, `with_allowed_hosts` otherwise): one allow-list to configure, not two.
        .disable_allowed_hosts();
    StreamableHttpService::new(
        || Ok(Demo::new()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let listen: SocketAddr = std::env::var("MCP_LISTEN")
        .unwrap_or_else(|_| "127.0.0.1:8081".into())
        .parse()?;

    let layer = SessionLayer::memory().with_executor(|task| {
        tokio::spawn(task);
    });
    let mcp = ServiceBuilder::new().layer(layer).service(rmcp_service());
    let app = Router::new().route_service("/mcp", mcp);

    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!("MCP server on http://{}/mcp", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
