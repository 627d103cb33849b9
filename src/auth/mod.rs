//! Authentication (feature `auth`): the MCP server as an OAuth 2.1 resource server, as the
//! MCP authorization spec (2025-06-18 onward, unchanged in 2026-07-28) asks.
//!
//! [`AuthLayer`] goes in front of [`SessionLayer`](crate::SessionLayer):
//!
//! - it serves the RFC 9728 Protected Resource Metadata at
//!   `/.well-known/oauth-protected-resource` with the resource's path inserted (and at the
//!   root form), naming the authorization servers, the scopes and `bearer_methods_supported:
//!   ["header"]`;
//! - it answers every request without a valid bearer token (POST, GET and DELETE, both
//!   protocol eras) with 401 and `WWW-Authenticate: Bearer resource_metadata="…"` (plus
//!   `scope="…"` when scopes are required, and `error="invalid_token"` when a token was sent
//!   and refused), a token lacking a required scope with 403 `insufficient_scope`, and a
//!   token it cannot check now (the authorization server down or slow) with 503 — each with a
//!   JSON-RPC error body;
//! - it hands the verified [`Identity`] to the service in the request extensions, and takes
//!   the `Authorization` header away (no token passthrough);
//! - [`SessionLayer`](crate::SessionLayer) binds each session to [`Identity::subject`]:
//!   another subject's token on the same session id gets 404, as if the session did not
//!   exist; the same subject continues with a fresh token when the old one expired.
//!
//! Which tokens are valid is a [`TokenVerifier`]'s decision: [`OAuthVerifier`] checks JWTs
//! against an issuer's published keys and opaque tokens by RFC 7662 introspection;
//! [`StaticTokens`] is a table of API keys; anything else implements the trait. The
//! authorization server is reached through an [`HttpClient`]: `ReqwestClient` natively,
//! `cloudflare::WorkerFetch` in a Worker. Keys and metadata are cached per process (per
//! isolate in a Worker).
//!
//! Behind a router, the metadata path must reach the same service as the MCP endpoint:
//! route each of [`AuthLayer::metadata_paths`] to it.

mod bearer;
mod cache;
mod challenge;
mod discovery;
mod endpoint;
mod http;
mod identity;
mod introspection;
mod jwks;
mod jwt;
mod layer;
mod metadata;
mod oauth;
mod refresh;
mod service;
mod settings;
mod verifier;

#[cfg(feature = "cloudflare")]
pub(crate) use self::http::too_large as too_large_answer;
#[cfg(not(target_arch = "wasm32"))]
pub use self::http::ReqwestClient;
pub use self::http::{HttpClient, MAX_RESPONSE_BYTES};
pub use identity::Identity;
pub use jsonwebtoken::Algorithm;
pub use jwt::DEFAULT_ALGORITHMS;
pub use layer::AuthLayer;
pub use metadata::PROTECTED_RESOURCE_PATH;
pub use oauth::OAuthVerifier;
pub use service::{AuthBody, AuthService};
pub use settings::{
    AuthSettings, MCP_AUTH_CLIENT_ID, MCP_AUTH_CLIENT_SECRET, MCP_AUTH_ISSUER, MCP_AUTH_SCOPES,
    MCP_RESOURCE,
};
pub use verifier::{StaticTokens, TokenVerifier, VerifyError};

/// A setting the auth layer cannot work with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthConfigError {
    /// A URL that is not absolute, not `https://` (`http://` is allowed on loopback only) or
    /// otherwise unusable.
    #[error("{what} {url:?} {reason}")]
    Url {
        /// Which setting.
        what: &'static str,
        /// Its value.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting that must be given with another one.
    #[error("{0} must be set")]
    Missing(&'static str),
}
