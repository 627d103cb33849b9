//! [`AuthService`]: metadata → token → verdict → scope → the inner service, with the
//! [`Identity`] in the request extensions.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use tower_service::Service;

use super::bearer::{presented, Presented};
use super::challenge::{Challenge, Refusal};
use super::identity::Identity;
use super::layer::AuthConfig;
use super::metadata::ProtectedResource;
use super::verifier::VerifyError;
use crate::protocol::headers::APPLICATION_JSON;

/// The response body of [`AuthService`]: the inner service's, or the layer's own answer.
pub type AuthBody<B> = Either<B, Full<Bytes>>;

/// Middleware that serves only requests with a valid bearer token. Built by
/// [`AuthLayer`](super::AuthLayer).
pub struct AuthService<S> {
    inner: S,
    config: Arc<AuthConfig>,
}

impl<S> AuthService<S> {
    pub(crate) fn new(inner: S, config: Arc<AuthConfig>) -> Self {
        Self { inner, config }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone> Clone for AuthService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for AuthService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("inner", &self.inner)
            .field("resource", &self.config.resource)
            .finish_non_exhaustive()
    }
}

impl<ReqBody, ResBody, S> Service<Request<ReqBody>> for AuthService<S>
where
    ReqBody: Send + 'static,
    ResBody: 'static,
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone may not be ready; the ready one is taken for this call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(authorize(self.config.clone(), inner, request))
    }
}

async fn authorize<ReqBody, ResBody, S>(
    config: Arc<AuthConfig>,
    mut inner: S,
    request: Request<ReqBody>,
) -> Result<Response<AuthBody<ResBody>>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    if config
        .metadata_paths
        .iter()
        .any(|path| path == request.uri().path())
    {
        return Ok(metadata(&config, request.method()).map(Either::Right));
    }
    // CORS preflights carry no credentials by design; the service answers them.
    if request.method() == Method::OPTIONS {
        return Ok(inner.call(request).await?.map(Either::Left));
    }
    let (mut parts, body) = request.into_parts();
    let scope = config.challenge_scope();
    let challenge = Challenge {
        metadata_url: &config.metadata_url,
        scope: scope.as_deref(),
    };
    let refuse = |refusal: Refusal| Ok(refusal.into_response(&challenge).map(Either::Right));
    let token = match presented(&parts, config.max_token_bytes) {
        Presented::Bearer(token) => token,
        Presented::Nothing => return refuse(Refusal::NoToken),
        Presented::Malformed(why) => return refuse(Refusal::InvalidToken(why.into())),
        Presented::InQuery => {
            return refuse(Refusal::InvalidRequest(
                "access tokens are accepted only in the Authorization header".into(),
            ))
        }
    };
    let identity = match config.verifier.verify(token).await {
        Ok(identity) => identity,
        Err(VerifyError::Invalid(why)) => {
            tracing::debug!(reason = %why, "bearer token refused");
            return refuse(Refusal::InvalidToken(why));
        }
        Err(VerifyError::Unavailable(error)) => {
            tracing::warn!(%error, "bearer token could not be verified: 503");
            return refuse(Refusal::Unavailable);
        }
    };
    if !config
        .required_scopes
        .iter()
        .all(|scope| identity.has_scope(scope))
    {
        return refuse(Refusal::InsufficientScope);
    }
    // The service gets the identity, never the token: it must not pass it on (MCP forbids
    // token passthrough), and what it does not have it cannot leak.
    parts.headers.remove(header::AUTHORIZATION);
    parts.extensions.insert::<Identity>(identity);
    let response = inner.call(Request::from_parts(parts, body)).await?;
    Ok(response.map(Either::Left))
}

/// The RFC 9728 document, readable cross-origin (browser clients discover from it).
fn metadata(config: &AuthConfig, method: &Method) -> Response<Full<Bytes>> {
    let mut response = match *method {
        Method::GET | Method::HEAD => {
            let document = ProtectedResource {
                resource: &config.resource,
                authorization_servers: &config.authorization_servers,
                scopes_supported: &config.scopes_supported,
                bearer_methods_supported: ["header"],
                resource_name: config.resource_name.as_deref(),
            };
            let body = serde_json::to_vec(&document).expect("metadata serializes");
            let mut response = Response::new(Full::new(if method == Method::HEAD {
                Bytes::new()
            } else {
                Bytes::from(body)
            }));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(APPLICATION_JSON),
            );
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=300"),
            );
            response
        }
        Method::OPTIONS => {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::NO_CONTENT;
            response.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            );
            response
        }
        _ => {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static("GET, HEAD, OPTIONS"),
            );
            response
        }
    };
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}
