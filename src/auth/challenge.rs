//! The answers of the auth layer when it does not call the service: 401 and 403 with an RFC
//! 6750 `WWW-Authenticate: Bearer` challenge naming the RFC 9728 metadata, 503 when tokens
//! cannot be checked — each with a JSON-RPC error body.

use std::borrow::Cow;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::protocol::jsonrpc::code;
use crate::protocol::rejection::Rejection;

/// JSON-RPC error code of refused credentials (the server-error range; no spec code exists).
const UNAUTHORIZED: i64 = -32001;

/// Why a request was not served.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// No token: a challenge without an error code (RFC 6750 §3.1).
    NoToken,
    /// The request presents a token the wrong way (in the query string).
    InvalidRequest(Cow<'static, str>),
    /// The token is not valid.
    InvalidToken(Cow<'static, str>),
    /// The token lacks a required scope.
    InsufficientScope,
    /// The token could not be checked now.
    Unavailable,
}

/// What every challenge says.
#[derive(Debug)]
pub(crate) struct Challenge<'a> {
    pub(crate) metadata_url: &'a str,
    /// The required scopes, space-separated (`None` when none are required).
    pub(crate) scope: Option<&'a str>,
}

impl Refusal {
    pub(crate) fn into_response(self, challenge: &Challenge<'_>) -> Response<Full<Bytes>> {
        let (status, code, message, error) = match &self {
            Refusal::NoToken => (
                StatusCode::UNAUTHORIZED,
                UNAUTHORIZED,
                Cow::Borrowed("Unauthorized: a bearer token is required"),
                None,
            ),
            Refusal::InvalidRequest(why) => (
                StatusCode::UNAUTHORIZED,
                UNAUTHORIZED,
                Cow::Owned(format!("Unauthorized: {why}")),
                Some(("invalid_request", why.as_ref())),
            ),
            Refusal::InvalidToken(why) => (
                StatusCode::UNAUTHORIZED,
                UNAUTHORIZED,
                Cow::Owned(format!("Unauthorized: {why}")),
                Some(("invalid_token", why.as_ref())),
            ),
            Refusal::InsufficientScope => (
                StatusCode::FORBIDDEN,
                UNAUTHORIZED,
                Cow::Borrowed("Forbidden: the token lacks a required scope"),
                Some(("insufficient_scope", "the token lacks a required scope")),
            ),
            Refusal::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                code::BACKEND_UNAVAILABLE,
                Cow::Borrowed("Authorization server unavailable, retry later"),
                None,
            ),
        };
        let mut response = Rejection::new(status, code, message.into_owned())
            .into_http(|text| Full::new(Bytes::from(text)));
        let headers = response.headers_mut();
        if matches!(self, Refusal::Unavailable) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            return response;
        }
        let mut value = format!("Bearer resource_metadata=\"{}\"", challenge.metadata_url);
        if let Some(scope) = challenge.scope {
            value.push_str(&format!(", scope=\"{scope}\""));
        }
        if let Some((error, description)) = error {
            value.push_str(&format!(
                ", error=\"{error}\", error_description=\"{}\"",
                quotable(description)
            ));
        }
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// RFC 6750 §3: `error_description` is `%x20-21 / %x23-5B / %x5D-7E` (no `"` or `\`).
fn quotable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '\'',
        })
        .collect()
}
