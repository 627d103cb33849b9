//! [`TokenVerifier`]: the one decision the auth layer delegates — whose token is this?

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;

use super::identity::Identity;
use crate::body::BoxError;

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is not valid here (bad signature, expired, another audience, unknown, …):
    /// answered 401 with `error="invalid_token"`.
    #[error("invalid token: {0}")]
    Invalid(Cow<'static, str>),
    /// The token could not be checked now (the authorization server is down, slow or
    /// answers junk): answered 503, so the client retries instead of asking for a new token.
    #[error("token could not be verified: {0}")]
    Unavailable(#[source] BoxError),
}

impl VerifyError {
    /// An invalid token, with a reason for the log and the `error_description`.
    pub fn invalid(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Invalid(reason.into())
    }

    /// The verifier's backend failed.
    pub fn unavailable(error: impl Into<BoxError>) -> Self {
        Self::Unavailable(error.into())
    }
}

/// Turns a bearer token into an [`Identity`], or refuses it.
///
/// [`OAuthVerifier`](super::OAuthVerifier) checks JWTs against an issuer's keys and opaque
/// tokens by introspection; implement this for any other scheme (an API-key table, tokens a
/// `workers-oauth-provider` keeps in KV, …). The auth layer does the rest: where the token is
/// read from, the challenges, the scope check and the hand-over to the inner service.
#[async_trait]
pub trait TokenVerifier: Send + Sync + 'static {
    /// The identity `token` speaks for. Must fail closed: any doubt is an error.
    async fn verify(&self, token: &str) -> Result<Identity, VerifyError>;
}

/// A fixed table of tokens (API keys), for servers whose clients are known in advance.
///
/// ```
/// use mcp_edge_session::auth::{Identity, StaticTokens};
///
/// let keys = StaticTokens::new()
///     .with_token("k-3f9a…", Identity::new("ci-bot").with_scopes(["mcp:tools"]));
/// # let _ = keys;
/// ```
#[derive(Clone, Default)]
pub struct StaticTokens {
    tokens: HashMap<String, Identity>,
}

impl StaticTokens {
    /// An empty table (refuses every token).
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `token` as `identity`.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>, identity: Identity) -> Self {
        self.tokens.insert(token.into(), identity);
        self
    }
}

impl fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The keys are secrets.
        f.debug_struct("StaticTokens")
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

#[async_trait]
impl TokenVerifier for StaticTokens {
    async fn verify(&self, token: &str) -> Result<Identity, VerifyError> {
        let identity = self
            .tokens
            .get(token)
            .ok_or_else(|| VerifyError::invalid("unknown token"))?;
        let now = crate::context::now_ms() / 1000;
        if identity.expires_at.is_some_and(|exp| exp <= now) {
            return Err(VerifyError::invalid("token expired"));
        }
        Ok(identity.clone())
    }
}
