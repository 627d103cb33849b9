//! [`AuthSettings`]: the auth layer from named settings (environment variables natively,
//! `[vars]` in a Worker), so a deployment turns authentication on without code.

use super::AuthConfigError;

/// The issuer whose tokens are accepted; unset means no authentication.
pub const MCP_AUTH_ISSUER: &str = "MCP_AUTH_ISSUER";
/// The canonical URL of the MCP endpoint: the audience tokens must name.
pub const MCP_RESOURCE: &str = "MCP_RESOURCE";
/// Space-separated scopes every request needs (optional).
pub const MCP_AUTH_SCOPES: &str = "MCP_AUTH_SCOPES";
/// The resource server's client id at the issuer, for introspecting opaque tokens (optional).
pub const MCP_AUTH_CLIENT_ID: &str = "MCP_AUTH_CLIENT_ID";
/// The secret that goes with [`MCP_AUTH_CLIENT_ID`].
pub const MCP_AUTH_CLIENT_SECRET: &str = "MCP_AUTH_CLIENT_SECRET";

/// What [`AuthLayer::from_settings`](super::AuthLayer::from_settings) builds a layer from.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthSettings {
    /// [`MCP_AUTH_ISSUER`].
    pub issuer: String,
    /// [`MCP_RESOURCE`].
    pub resource: String,
    /// [`MCP_AUTH_SCOPES`], split at whitespace.
    pub scopes: Vec<String>,
    /// [`MCP_AUTH_CLIENT_ID`] and [`MCP_AUTH_CLIENT_SECRET`].
    pub client_credentials: Option<(String, String)>,
}

impl AuthSettings {
    /// Reads the settings through `lookup` (e.g. `|name| std::env::var(name).ok()`): `None`
    /// when `MCP_AUTH_ISSUER` is unset or empty; an error when it is set without
    /// `MCP_RESOURCE`, or with only half of the client credentials.
    ///
    /// ```
    /// use mcp_edge_session::auth::AuthSettings;
    ///
    /// let vars = [("MCP_AUTH_ISSUER", "https://auth.example.com"),
    ///             ("MCP_RESOURCE", "https://mcp.example.com/mcp"),
    ///             ("MCP_AUTH_SCOPES", "mcp:tools mcp:read")];
    /// let lookup = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
    /// let settings = AuthSettings::from_lookup(lookup).unwrap().unwrap();
    /// assert_eq!(settings.scopes, ["mcp:tools", "mcp:read"]);
    /// ```
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, AuthConfigError> {
        let read = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let Some(issuer) = read(MCP_AUTH_ISSUER) else {
            return Ok(None);
        };
        let resource = read(MCP_RESOURCE).ok_or(AuthConfigError::Missing(MCP_RESOURCE))?;
        let scopes = read(MCP_AUTH_SCOPES)
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let client_credentials = match (read(MCP_AUTH_CLIENT_ID), read(MCP_AUTH_CLIENT_SECRET)) {
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
            (Some(_), None) => return Err(AuthConfigError::Missing(MCP_AUTH_CLIENT_SECRET)),
            (None, Some(_)) => return Err(AuthConfigError::Missing(MCP_AUTH_CLIENT_ID)),
        };
        Ok(Some(Self {
            issuer,
            resource,
            scopes,
            client_credentials,
        }))
    }
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("issuer", &self.issuer)
            .field("resource", &self.resource)
            .field("scopes", &self.scopes)
            .field(
                "client_id",
                &self.client_credentials.as_ref().map(|(id, _)| id),
            )
            .finish()
    }
}
