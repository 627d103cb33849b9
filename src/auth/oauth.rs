//! [`OAuthVerifier`]: access tokens of one OAuth 2.1 / OpenID Connect issuer — JWTs checked
//! against its published keys, opaque tokens by introspection.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::Algorithm;
use url::Url;

use super::cache::VerifiedTokens;
use super::discovery::{discover, IssuerMetadata};
use super::endpoint::secure_url;
use super::http::{fetch_json, get, HttpClient};
use super::identity::Identity;
use super::introspection::{introspect, ClientCredentials};
use super::jwks::KeySet;
use super::jwt::{self, JwtRules, DEFAULT_ALGORITHMS};
use super::refresh::{Fetched, NotRefreshed, Refreshing};
use super::verifier::{TokenVerifier, VerifyError};
use super::AuthConfigError;

/// How long a key set is used before it is fetched again (jose's default).
const KEYS_MAX_AGE: Duration = Duration::from_secs(10 * 60);
/// Least time between two fetches of the key set (or of the metadata): a flood of unknown key
/// ids costs the authorization server at most one fetch per cool-down and isolate.
const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// How long issuer metadata is used before it is fetched again.
const METADATA_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
/// Longest wait for the authorization server before answering 503.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY: Duration = Duration::from_secs(10);

/// Verifies the access tokens of one issuer for one resource (the audience).
///
/// - The issuer's endpoints come from its RFC 8414 metadata
///   (`/.well-known/oauth-authorization-server`), or from OpenID Connect discovery when it has
///   none; the document must name the issuer exactly.
/// - A JWT must be signed by a key of the issuer's JWKS with an allowed asymmetric algorithm
///   (RS*, PS*, ES256, ES384, EdDSA; never `none` or HMAC) and carry `iss` = the issuer,
///   `aud` containing the resource (RFC 8707) and `exp` (10 s leeway on `exp` and `nbf`).
/// - The key set is cached per process (per isolate in a Worker) for 10 minutes and fetched
///   again when a token names an unknown key id, at most once per 30 s: a rotated key is
///   accepted within 30 s, and a flood of made-up key ids cannot flood the issuer.
/// - Other tokens are introspected (RFC 7662) when the issuer publishes an
///   `introspection_endpoint` and [`with_client_credentials`](Self::with_client_credentials)
///   gave the resource server's own credentials.
/// - A token verified once is not checked again for a minute (or until it expires, if that is
///   sooner): a client's steady requests cost a SHA-256 and a lookup. So a revoked token, or one
///   signed by a key the issuer withdrew, keeps working for at most a minute.
/// - Every fetch is bounded (5 s): an issuer that is down, slow or answers junk makes
///   requests that need it 503, while tokens of cached keys keep working.
///
/// ```
/// # #[cfg(not(target_arch = "wasm32"))] {
/// use mcp_edge_session::auth::{OAuthVerifier, ReqwestClient};
///
/// let verifier = OAuthVerifier::new(
///     "https://auth.example.com",
///     "https://mcp.example.com/mcp",
///     ReqwestClient::new().unwrap(),
/// )
/// .unwrap();
/// # let _ = verifier; }
/// ```
pub struct OAuthVerifier {
    issuer: Url,
    http: Arc<dyn HttpClient>,
    rules: JwtRules,
    credentials: Option<ClientCredentials>,
    jwks_uri: Option<String>,
    timeout: Duration,
    metadata: Refreshing<IssuerMetadata>,
    keys: Refreshing<KeySet>,
    verified: VerifiedTokens,
}

impl OAuthVerifier {
    /// Tokens of `issuer` meant for `resource` (the canonical URL of the MCP endpoint), with
    /// the authorization server reached through `http`. `issuer` must be `https://`
    /// (`http://` only on loopback).
    pub fn new(
        issuer: &str,
        resource: &str,
        http: impl HttpClient,
    ) -> Result<Self, AuthConfigError> {
        Self::with_shared_client(issuer, resource, Arc::new(http))
    }

    /// As [`new`](Self::new), with a client shared with other code.
    pub fn with_shared_client(
        issuer: &str,
        resource: &str,
        http: Arc<dyn HttpClient>,
    ) -> Result<Self, AuthConfigError> {
        let issuer_url = secure_url("issuer", issuer)?;
        Ok(Self {
            http,
            rules: JwtRules {
                issuer: issuer.to_owned(),
                audience: resource.to_owned(),
                algorithms: DEFAULT_ALGORITHMS.to_vec(),
                leeway_secs: LEEWAY.as_secs(),
            },
            issuer: issuer_url,
            credentials: None,
            jwks_uri: None,
            timeout: FETCH_TIMEOUT,
            metadata: Refreshing::new(REFETCH_COOLDOWN, METADATA_MAX_AGE),
            keys: Refreshing::new(REFETCH_COOLDOWN, KEYS_MAX_AGE),
            verified: VerifiedTokens::default(),
        })
    }

    /// The resource server's client credentials at the issuer, for introspecting opaque tokens.
    #[must_use]
    pub fn with_client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.credentials = Some(ClientCredentials {
            id: client_id.into(),
            secret: client_secret.into(),
        });
        self
    }

    /// Only these JWT algorithms (a subset of the asymmetric defaults; HMAC and `none` are
    /// never accepted, whatever is asked).
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.rules.algorithms = algorithms
            .into_iter()
            .filter(|a| DEFAULT_ALGORITHMS.contains(a))
            .collect();
        self
    }

    /// Clock skew tolerated on `exp` and `nbf` (default 10 s).
    #[must_use]
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.rules.leeway_secs = leeway.as_secs();
        self
    }

    /// Uses this JWKS URL instead of the one in the issuer's metadata.
    pub fn with_jwks_uri(mut self, uri: &str) -> Result<Self, AuthConfigError> {
        secure_url("jwks_uri", uri)?;
        self.jwks_uri = Some(uri.to_owned());
        Ok(self)
    }

    /// How the key set is cached: fetched again after `max_age`, and on an unknown key id at
    /// most once per `cooldown` (defaults 10 min and 30 s).
    #[must_use]
    pub fn with_key_refresh(mut self, cooldown: Duration, max_age: Duration) -> Self {
        self.keys = Refreshing::new(cooldown, max_age);
        self
    }

    /// Longest wait for the authorization server (default 5 s); past it the request is 503.
    #[must_use]
    pub fn with_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The issuer's metadata, fetched once and again after a day (the old copy serves while a
    /// new one cannot be had).
    async fn metadata(&self) -> Result<Arc<Fetched<IssuerMetadata>>, VerifyError> {
        let fetch = || discover(self.http.as_ref(), &self.issuer, self.timeout);
        let current = self.metadata.current();
        if let Some(metadata) = &current {
            if self.metadata.is_stale(metadata) {
                if let Some(Ok(fresh)) = self.metadata.try_refresh(current.as_ref(), fetch).await {
                    return Ok(fresh);
                }
            }
            return Ok(metadata.clone());
        }
        self.metadata
            .refresh(None, fetch)
            .await
            .map_err(|not| unavailable("authorization server metadata", not))
    }

    async fn jwks_uri(&self) -> Result<String, VerifyError> {
        if let Some(uri) = &self.jwks_uri {
            return Ok(uri.clone());
        }
        let metadata = self.metadata().await?;
        metadata.value.jwks_uri.clone().ok_or_else(|| {
            tracing::warn!(issuer = %self.issuer, "issuer publishes no jwks_uri: JWTs are refused");
            VerifyError::invalid("issuer publishes no keys")
        })
    }

    async fn verify_jwt(&self, token: &str) -> Result<Identity, VerifyError> {
        let header = jwt::allowed_header(token, &self.rules)?;
        let kid = header.kid.as_deref();
        let matches = |set: &KeySet| set.candidates(kid, header.alg).next().is_some();
        let current = self.keys.current();
        if let Some(set) = current.as_ref().filter(|set| matches(&set.value)) {
            let mut set = set.clone();
            if self.keys.is_stale(&set) {
                let uri = self.jwks_uri().await?;
                let fetch = || fetch_keys(self, uri);
                // Only one caller waits for the new set; the others use the old one meanwhile.
                if let Some(Ok(fresh)) = self.keys.try_refresh(Some(&set), fetch).await {
                    set = fresh;
                }
            }
            return jwt::verify(
                token,
                &header,
                set.value.candidates(kid, header.alg),
                &self.rules,
            );
        }
        // A key id not seen yet: a rotation, or a forgery.
        let uri = self.jwks_uri().await?;
        match self
            .keys
            .refresh(current.as_ref(), || fetch_keys(self, uri))
            .await
        {
            Ok(set) => jwt::verify(
                token,
                &header,
                set.value.candidates(kid, header.alg),
                &self.rules,
            ),
            Err(NotRefreshed::CoolingDown { failed: false }) => {
                Err(VerifyError::invalid("token signed by an unpublished key"))
            }
            Err(not) => Err(unavailable("issuer's key set", not)),
        }
    }

    async fn verify_opaque(&self, token: &str) -> Result<Identity, VerifyError> {
        let Some(credentials) = &self.credentials else {
            return Err(VerifyError::invalid(
                "not a JWT (no introspection configured)",
            ));
        };
        let metadata = self.metadata().await?;
        let Some(endpoint) = &metadata.value.introspection_endpoint else {
            return Err(VerifyError::invalid(
                "not a JWT (issuer offers no introspection)",
            ));
        };
        introspect(
            self.http.as_ref(),
            endpoint,
            credentials,
            token,
            &self.rules.issuer,
            &self.rules.audience,
            self.timeout,
        )
        .await
    }
}

async fn fetch_keys(
    verifier: &OAuthVerifier,
    uri: String,
) -> Result<KeySet, crate::body::BoxError> {
    let document = fetch_json(verifier.http.as_ref(), get(&uri)?, verifier.timeout).await?;
    KeySet::parse(document)
}

fn unavailable(what: &str, not: NotRefreshed) -> VerifyError {
    match not {
        NotRefreshed::Failed(error) => {
            tracing::warn!(%error, "{what} unavailable");
            VerifyError::unavailable(format!("{what} unavailable: {error}"))
        }
        NotRefreshed::CoolingDown { .. } => {
            VerifyError::unavailable(format!("{what} unavailable (retrying shortly)"))
        }
    }
}

#[async_trait]
impl TokenVerifier for OAuthVerifier {
    async fn verify(&self, token: &str) -> Result<Identity, VerifyError> {
        let key = VerifiedTokens::key(token);
        if let Some(identity) = self.verified.get(&key) {
            return Ok(identity);
        }
        let identity = if jwt::looks_like_jwt(token) {
            self.verify_jwt(token).await?
        } else {
            self.verify_opaque(token).await?
        };
        self.verified.put(key, &identity);
        Ok(identity)
    }
}

impl fmt::Debug for OAuthVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthVerifier")
            .field("issuer", &self.issuer.as_str())
            .field("audience", &self.rules.audience)
            .field("algorithms", &self.rules.algorithms)
            .field("introspection", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}
