//! The auth layer of this Worker, from its `[vars]` (`MCP_AUTH_ISSUER`, `MCP_RESOURCE`,
//! `MCP_AUTH_SCOPES`, …; none set = no auth). Built once per isolate, so the issuer's metadata
//! and keys are fetched once per isolate, not per request.
//!
//! With `MCP_AUTH_KV` naming a KV binding, tokens are Cloudflare `workers-oauth-provider`
//! tokens looked up in that namespace (the provider's `OAUTH_KV`) instead; `MCP_AUTH_ISSUER`
//! is then the provider's URL, named in the metadata for clients to find it.

use std::sync::OnceLock;

use mcp_edge_session::auth::{AuthLayer, AuthSettings, StaticTokens};
use mcp_edge_session::cloudflare::{WorkerFetch, WorkersOAuthTokens};
use worker::Env;

static AUTH: OnceLock<Option<AuthLayer>> = OnceLock::new();

type BoxError = Box<dyn std::error::Error>;

/// The isolate's auth layer, if the Worker's vars ask for one. Settings that cannot work are
/// logged and fail closed: every request is then refused (by a verifier that accepts nothing).
pub(crate) fn layer(env: &Env) -> Option<&'static AuthLayer> {
    AUTH.get_or_init(|| {
        let settings = AuthSettings::from_lookup(|name| env.var(name).ok().map(|v| v.to_string()));
        let built = settings
            .map_err(BoxError::from)
            .and_then(|settings| settings.map(|settings| build(env, &settings)).transpose());
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

fn build(env: &Env, settings: &AuthSettings) -> Result<AuthLayer, BoxError> {
    let Ok(binding) = env.var("MCP_AUTH_KV") else {
        return Ok(AuthLayer::from_settings(settings, WorkerFetch)?);
    };
    let tokens = WorkersOAuthTokens::new(env.kv(&binding.to_string())?, &settings.resource);
    Ok(AuthLayer::new(&settings.resource, tokens)?
        .with_authorization_server(&settings.issuer)
        .with_required_scopes(settings.scopes.iter().cloned()))
}

fn refuse_all() -> AuthLayer {
    AuthLayer::new("https://unconfigured.invalid/mcp", StaticTokens::new())
        .expect("a valid resource URL")
}
