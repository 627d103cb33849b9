//! Reading the runtime's request into an `http::Request`, answering the ones that cannot be.

use bytes::Bytes;
use http_body_util::Full;
use worker::worker_sys::web_sys;
use worker::{FromRequest, HttpRequest};

use crate::body::SessionBody;
use crate::protocol::rejection::Rejection;

/// Converts the runtime's request for the layer. workerd passes on header values that are
/// not valid HTTP (control characters, say), which `http` refuses: answer such a request with
/// [`UnreadableRequest::into_response`], a 400 with a JSON-RPC error body, instead of the
/// runtime's plain-text 500.
///
/// Take `web_sys::Request` in `#[event(fetch)]` and call this first (see
/// `examples/worker/src/lib.rs`).
pub fn read_request(request: web_sys::Request) -> Result<HttpRequest, UnreadableRequest> {
    HttpRequest::from_raw(request).map_err(|error| {
        let error: Box<dyn std::error::Error> = error.into();
        UnreadableRequest {
            message: error.to_string(),
        }
    })
}

/// A request `http` cannot represent.
#[derive(Debug, thiserror::Error)]
#[error("unreadable request: {message}")]
pub struct UnreadableRequest {
    message: String,
}

impl UnreadableRequest {
    /// The answer: 400 with a JSON-RPC error body.
    pub fn into_response(self) -> http::Response<SessionBody<Full<Bytes>>> {
        tracing::debug!(error = %self, "unreadable request");
        Rejection::bad_request("Bad Request: a header is not valid HTTP").into_response()
    }
}
