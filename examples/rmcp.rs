//! An [rmcp](https://docs.rs/rmcp) server served by `RmcpService` behind `SessionLayer`: the
//! layer keeps the sessions and routes what the handler sends, rmcp answers requests.
//!
//! ```sh
//! cargo run --example rmcp            # serves http://127.0.0.1:8081/mcp
//! MCP_LISTEN=127.0.0.1:3000 cargo run --example rmcp
//! ```
//!
//! The `whoami` tool reads the layer's [`McpContext`] out of the `http::request::Parts` in the
//! request context, so it knows the client that initialized the session even though nothing
//! of rmcp outlives a request; `greet` asks the user for their name with an elicitation, whose
//! answer the client POSTs back (to any instance, with a shared backend).

use std::net::SocketAddr;

use axum::Router;
use mcp_edge_session::rmcp::RmcpService;
use mcp_edge_session::{McpContext, SessionLayer};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ElicitRequestParams, ElicitationAction, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use tower::ServiceBuilder;
use tracing_subscriber::EnvFilter;

/// The MCP server: three tools, no state of its own.
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

    #[tool(description = "Asks the user for their name (elicitation), then greets them")]
    async fn greet(&self, context: RequestContext<RoleServer>) -> Result<String, ErrorData> {
        let params: ElicitRequestParams = serde_json::from_value(serde_json::json!({
            "mode": "form",
            "message": "What is your name?",
            "requestedSchema": {
                "type": "object",
                "properties": { "name": { "type": "string", "title": "Name" } },
                "required": ["name"],
            },
        }))
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let answer = context
            .peer
            .create_elicitation(params)
            .await
            .map_err(|e| ErrorData::internal_error(format!("elicitation failed: {e}"), None))?;
        let name = answer
            .content
            .as_ref()
            .and_then(|content| content.get("name"))
            .and_then(|name| name.as_str())
            .filter(|_| answer.action == ElicitationAction::Accept);
        Ok(match name {
            Some(name) => format!("Hello, {name}!"),
            None => "Hello, whoever you are.".to_owned(),
        })
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Demo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
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
    let mcp = ServiceBuilder::new()
        .layer(layer)
        .service(RmcpService::new(|| Ok(Demo::new())));
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
