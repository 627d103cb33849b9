//! [`AuthLayer`]: configuration of the resource server and the builder of [`AuthService`].

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;
use url::Url;

use super::endpoint::secure_url;
use super::http::HttpClient;
use super::metadata::{metadata_paths, metadata_url};
use super::oauth::OAuthVerifier;
use super::service::AuthService;
use super::settings::AuthSettings;
use super::verifier::TokenVerifier;
use super::AuthConfigError;

/// Largest `Authorization` header read (default); longer ones are refused unparsed.
const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Everything an [`AuthService`] needs, shared by all its clones.
#[derive(Clone)]
pub(crate) struct AuthConfig {
    pub(crate) verifier: Arc<dyn TokenVerifier>,
    pub(crate) resource: String,
    pub(crate) metadata_url: String,
    pub(crate) metadata_paths: Vec<String>,
    pub(crate) authorization_servers: Vec<String>,
    pub(crate) required_scopes: Vec<String>,
    pub(crate) scopes_supported: Vec<String>,
    pub(crate) resource_name: Option<String>,
    pub(crate) max_token_bytes: usize,
}

impl AuthConfig {
    /// The required scopes as a challenge's `scope` value.
    pub(crate) fn challenge_scope(&self) -> Option<String> {
        (!self.required_scopes.is_empty()).then(|| self.required_scopes.join(" "))
    }
}

/// A [`tower_layer::Layer`] that makes the service it wraps an OAuth 2.1 resource server, as
/// the MCP authorization spec asks: it serves the RFC 9728 metadata, answers requests without
/// a valid bearer token with 401 and a `WWW-Authenticate` challenge (403 for a missing scope),
/// and hands the verified [`Identity`](super::Identity) to the service in the request's
/// extensions. Put it in front of [`SessionLayer`](crate::SessionLayer), which then binds
/// every session to the token's subject.
///
/// ```
/// # #[cfg(not(target_arch = "wasm32"))] {
/// use mcp_edge_session::auth::{AuthLayer, ReqwestClient};
/// use mcp_edge_session::SessionLayer;
/// use tower::ServiceBuilder;
///
/// let auth = AuthLayer::oauth(
///     "https://auth.example.com",      // the issuer
///     "https://mcp.example.com/mcp",   // this endpoint's canonical URL: the tokens' audience
///     ReqwestClient::new().unwrap(),
/// )
/// .unwrap()
/// .with_required_scopes(["mcp:tools"]);
/// let stack = ServiceBuilder::new().layer(auth).layer(SessionLayer::memory());
/// # let _ = stack; }
/// ```
#[derive(Clone)]
pub struct AuthLayer {
    config: Arc<AuthConfig>,
}

impl AuthLayer {
    /// A resource server at `resource` (the canonical URL of the MCP endpoint) whose tokens
    /// `verifier` checks. List the authorization servers with
    /// [`with_authorization_server`](Self::with_authorization_server).
    pub fn new(resource: &str, verifier: impl TokenVerifier) -> Result<Self, AuthConfigError> {
        Self::with_shared_verifier(resource, Arc::new(verifier))
    }

    /// As [`new`](Self::new), with a verifier shared with other code.
    pub fn with_shared_verifier(
        resource: &str,
        verifier: Arc<dyn TokenVerifier>,
    ) -> Result<Self, AuthConfigError> {
        let url: Url = secure_url("resource", resource)?;
        if url.query().is_some() {
            return Err(AuthConfigError::Url {
                what: "resource",
                url: resource.to_owned(),
                reason: "must not have a query".into(),
            });
        }
        Ok(Self {
            config: Arc::new(AuthConfig {
                verifier,
                resource: resource.to_owned(),
                metadata_url: metadata_url(&url),
                metadata_paths: metadata_paths(&url),
                authorization_servers: Vec::new(),
                required_scopes: Vec::new(),
                scopes_supported: Vec::new(),
                resource_name: None,
                max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            }),
        })
    }

    /// Tokens of `issuer` (see [`OAuthVerifier`]) for `resource`, with the issuer listed in
    /// the metadata.
    pub fn oauth(
        issuer: &str,
        resource: &str,
        http: impl HttpClient,
    ) -> Result<Self, AuthConfigError> {
        let verifier = OAuthVerifier::new(issuer, resource, http)?;
        Ok(Self::new(resource, verifier)?.with_authorization_server(issuer))
    }

    /// The layer [`AuthSettings`] describe: [`oauth`](Self::oauth) with the settings' scopes
    /// required and, when given, the client credentials used for introspection.
    pub fn from_settings(
        settings: &AuthSettings,
        http: impl HttpClient,
    ) -> Result<Self, AuthConfigError> {
        let mut verifier = OAuthVerifier::new(&settings.issuer, &settings.resource, http)?;
        if let Some((id, secret)) = &settings.client_credentials {
            verifier = verifier.with_client_credentials(id, secret);
        }
        Ok(Self::new(&settings.resource, verifier)?
            .with_authorization_server(&settings.issuer)
            .with_required_scopes(settings.scopes.iter().cloned()))
    }

    fn config_mut(&mut self) -> &mut AuthConfig {
        Arc::make_mut(&mut self.config)
    }

    /// Lists `issuer` under `authorization_servers` in the metadata.
    #[must_use]
    pub fn with_authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.config_mut().authorization_servers.push(issuer.into());
        self
    }

    /// Scopes every request's token must grant (else 403 `insufficient_scope`); they are
    /// also named in every challenge and listed as supported.
    #[must_use]
    pub fn with_required_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let required: Vec<String> = scopes.into_iter().map(Into::into).collect();
        self.config_mut().required_scopes = required.clone();
        self.with_scopes_supported(required)
    }

    /// Lists more scopes under `scopes_supported` in the metadata.
    #[must_use]
    pub fn with_scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let config = self.config_mut();
        for scope in scopes.into_iter().map(Into::into) {
            if !config.scopes_supported.contains(&scope) {
                config.scopes_supported.push(scope);
            }
        }
        self
    }

    /// A human-readable `resource_name` for the metadata.
    #[must_use]
    pub fn with_resource_name(mut self, name: impl Into<String>) -> Self {
        self.config_mut().resource_name = Some(name.into());
        self
    }

    /// Largest `Authorization` header read (default 8 KiB); longer ones get 401 unparsed.
    #[must_use]
    pub fn with_max_token_bytes(mut self, limit: usize) -> Self {
        self.config_mut().max_token_bytes = limit;
        self
    }

    /// The URL of the metadata document, as challenges name it.
    pub fn metadata_url(&self) -> &str {
        &self.config.metadata_url
    }

    /// The paths the service answers with the metadata document: the well-known path with the
    /// resource's path inserted, and the root form. Behind a router, route these to the same
    /// service as the MCP endpoint.
    pub fn metadata_paths(&self) -> &[String] {
        &self.config.metadata_paths
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService::new(inner, self.config.clone())
    }
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("resource", &self.config.resource)
            .field("authorization_servers", &self.config.authorization_servers)
            .field("required_scopes", &self.config.required_scopes)
            .finish_non_exhaustive()
    }
}
