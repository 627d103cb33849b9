//! [`SessionService`]: classify → check → hydrate → call → finish.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{header, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tower_service::Service;

use crate::body::{BoxError, SessionBody};
use crate::layer::Config;
use crate::protocol::accept::{accepts_post_answers, is_json_content};
use crate::protocol::headers::{MCP_PROTOCOL_VERSION, MCP_SESSION_ID};
use crate::protocol::jsonrpc::{code, EnvelopeError, Incoming};
use crate::protocol::meta::declared_version;
use crate::protocol::rejection::Rejection;
use crate::protocol::version::{era_of, is_stateless_era, Era};
use crate::security::{self, Forbidden};
use crate::{legacy, stateless};

/// A response of the layer.
pub(crate) type Reply<B> = Response<SessionBody<B>>;

/// The body type the inner service receives: the request body, already read and bounded.
pub type InnerBody = Full<Bytes>;

/// Returns early with the rejection's response.
macro_rules! or_reject {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(rejection) => {
                return Ok($crate::protocol::rejection::Rejection::from(rejection).into_response())
            }
        }
    };
}
pub(crate) use or_reject;

/// Middleware that gives an MCP Streamable-HTTP service sessions (legacy era), per-request
/// context (stateless era) and streams. Built by [`SessionLayer`](crate::SessionLayer).
pub struct SessionService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> SessionService<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
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

impl<S: Clone> Clone for SessionService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<ReqBody, ResBody, S> Service<Request<ReqBody>> for SessionService<S>
where
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
    ResBody: Body + Send + 'static,
    ResBody::Data: Send,
    ResBody::Error: Into<BoxError>,
    S: Service<Request<InnerBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Reply<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone may not be ready; the ready one is taken for this call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(dispatch(self.config.clone(), inner, request))
    }
}

async fn dispatch<ReqBody, ResBody, S>(
    config: Arc<Config>,
    inner: S,
    request: Request<ReqBody>,
) -> Result<Reply<ResBody>, S::Error>
where
    ReqBody: Body + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: Body + Send + 'static,
    ResBody::Data: Send,
    ResBody::Error: Into<BoxError>,
    S: Service<Request<InnerBody>, Response = Response<ResBody>> + Send + 'static,
    S::Future: Send + 'static,
{
    let (parts, body) = request.into_parts();
    if let Err(forbidden) = security::check(
        &parts.headers,
        parts.uri.host(),
        &config.hosts,
        &config.origins,
    ) {
        let message = match forbidden {
            Forbidden::Host => "Forbidden: Host not allowed",
            Forbidden::Origin => "Forbidden: Origin not allowed",
        };
        return Ok(
            Rejection::new(StatusCode::FORBIDDEN, code::SERVER_ERROR, message).into_response(),
        );
    }
    let header_version = parts
        .headers
        .get(&MCP_PROTOCOL_VERSION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let stateless_header = header_version.is_some_and(is_stateless_era);
    let legacy_header = header_version.is_some_and(|v| era_of(v) == Some(Era::Legacy));

    match parts.method {
        Method::POST => {
            or_reject!(check_post_headers(&parts.headers));
            let bytes = or_reject!(read_body(&parts.headers, body, config.max_body_bytes).await);
            let incoming = or_reject!(Incoming::parse(&bytes).map_err(Rejection::from));
            // `initialize` opens a legacy session, unless its headers already speak the
            // stateless era, which has no such method.
            if incoming.any_method("initialize") && !stateless_header {
                return legacy::initialize(&config, inner, parts, bytes, incoming).await;
            }
            // A request without a session that declares a version in `_meta` (any but a
            // legacy one, which has no `_meta` version) speaks the stateless era, which answers
            // an unknown version with the versions it supports.
            let stateless = stateless_header
                || (!legacy_header
                    && !parts.headers.contains_key(&MCP_SESSION_ID)
                    && incoming
                        .single()
                        .and_then(declared_version)
                        .is_some_and(|v| era_of(&v) != Some(Era::Legacy)));
            if stateless {
                stateless::post(&config, inner, parts, bytes, incoming).await
            } else {
                legacy::post(&config, inner, parts, bytes, incoming).await
            }
        }
        // The stateless era has no GET stream and no session to delete.
        Method::GET | Method::DELETE if stateless_header => {
            Ok(Rejection::method_not_allowed("POST").into_response())
        }
        Method::GET => Ok(legacy::get(&config, parts).await),
        Method::DELETE => Ok(legacy::delete(&config, parts).await),
        _ => Ok(Rejection::method_not_allowed("GET, POST, DELETE").into_response()),
    }
}

fn check_post_headers(headers: &http::HeaderMap) -> Result<(), Rejection> {
    if !accepts_post_answers(headers) {
        return Err(Rejection::new(
            StatusCode::NOT_ACCEPTABLE,
            code::SERVER_ERROR,
            "Not Acceptable: Client must accept both application/json and text/event-stream",
        ));
    }
    if !is_json_content(headers) {
        return Err(Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::SERVER_ERROR,
            "Unsupported Media Type: Content-Type must be application/json",
        ));
    }
    Ok(())
}

fn too_large() -> Rejection {
    Rejection::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        code::SERVER_ERROR,
        "Payload Too Large: request body exceeds the limit",
    )
}

/// Reads the whole body, refusing more than `limit` bytes (413) before buffering them.
async fn read_body<B>(headers: &http::HeaderMap, body: B, limit: usize) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(too_large()),
        Err(error) => Err(Rejection::bad_request(format!(
            "Bad Request: could not read body: {error}"
        ))),
    }
}

impl From<EnvelopeError> for Rejection {
    fn from(error: EnvelopeError) -> Self {
        match error {
            EnvelopeError::Parse(detail) => Rejection::new(
                StatusCode::BAD_REQUEST,
                code::PARSE_ERROR,
                format!("Parse error: {detail}"),
            ),
            EnvelopeError::Invalid(detail) => Rejection::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_REQUEST,
                format!("Invalid Request: {detail}"),
            ),
        }
    }
}
