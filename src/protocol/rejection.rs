//! Answers the layer gives instead of calling the inner service: an HTTP status with a
//! JSON-RPC error body.

use std::borrow::Cow;

use http::{header, HeaderValue, Response, StatusCode};
use serde_json::value::RawValue;

use super::headers::APPLICATION_JSON;
use super::jsonrpc::{code, error_body};
use crate::body::SessionBody;

/// A refused request.
#[derive(Debug)]
pub(crate) struct Rejection {
    status: StatusCode,
    code: i64,
    message: Cow<'static, str>,
    id: Option<Box<RawValue>>,
    // Boxed: rare, and a `Value` would make every `Result<_, Rejection>` large.
    data: Option<Box<serde_json::Value>>,
    allow: Option<&'static str>,
}

impl Rejection {
    pub(crate) fn new(
        status: StatusCode,
        code: i64,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            id: None,
            data: None,
            allow: None,
        }
    }

    /// Echoes the id of the request being refused.
    pub(crate) fn with_id(mut self, id: Option<&RawValue>) -> Self {
        self.id = id.map(RawValue::to_owned);
        self
    }

    /// Attaches the JSON-RPC error's `data`.
    pub(crate) fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(Box::new(data));
        self
    }

    pub(crate) fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::SERVER_ERROR, message)
    }

    pub(crate) fn session_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::SESSION_NOT_FOUND,
            "Session not found",
        )
    }

    pub(crate) fn method_not_allowed(allow: &'static str) -> Self {
        let mut rejection = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            code::SERVER_ERROR,
            "Method not allowed",
        );
        rejection.allow = Some(allow);
        rejection
    }

    /// A backend failed: logged here, once, and answered 503.
    pub(crate) fn unavailable(error: &dyn std::error::Error) -> Self {
        tracing::warn!(error = %error, "backend failure answered with 503");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code::BACKEND_UNAVAILABLE,
            "Session backend unavailable, retry later",
        )
    }

    pub(crate) fn into_response<B>(self) -> Response<SessionBody<B>> {
        self.into_http(SessionBody::full)
    }

    /// The refusal as a response with any body type, made by `body` from the JSON-RPC error
    /// message; logged once here.
    pub(crate) fn into_http<B>(self, body: impl FnOnce(String) -> B) -> Response<B> {
        tracing::debug!(status = %self.status, code = self.code, message = %self.message, "request refused");
        let text = error_body(
            self.id.as_deref(),
            self.code,
            &self.message,
            self.data.as_deref(),
        );
        let mut response = Response::new(body(text));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(APPLICATION_JSON),
        );
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}
