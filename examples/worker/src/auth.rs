//! The auth layer of this Worker, from its `[vars]` (`MCP_AUTH_ISSUER`, `MCP_RESOURCE`,
//! `MCP_AUTH_SCOPES`, …; none set = no auth). Built once per isolate, so the issuer's metadata
//! and keys are fetched once per isolate, not per request.

use std::sync::OnceLock;

use mcp_edge_session::auth::{AuthLayer, AuthSettings};
use mcp_edge_session::cloudflare::WorkerFetch;
use worker::Env;

static AUTH: OnceLock<Option<AuthLayer>> = OnceLock::new();

/// The isolate's auth layer, if the Worker's vars ask for one. Settings that cannot work are
/// logged and fail closed: every request is then refused (by a verifier that accepts nothing).
pub(crate) fn layer(env: &Env) -> Option<&'static AuthLayer> {
    AUTH.get_or_init(|| {
        let settings = AuthSettings::from_lookup(|name| env.var(name).ok().map(|v| v.to_string()));
        let built = settings.and_then(|settings| {
            settings
                .map(|settings| AuthLayer::from_settings(&settings, WorkerFetch))
                .transpose()
        });
        match built {
            Ok(layer) => layer,
            Err(error) => {
                tracing::error!(%error, "auth settings unusable: refusing every request");
                Some(refuse_all())
            }
        }
    })
    .as_ref()
}

fn refuse_all() -> AuthLayer {
    AuthLayer::new(
        "https://unconfigured.invalid/mcp",
        mcp_edge_session::auth::StaticTokens::new(),
    )
    .expect("a valid resource URL")
}
