//! Calling the inner service and reading what it answered.

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use http::{header, Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use serde_json::value::RawValue;
use serde_json::Value;
use tower_service::Service;

use crate::body::{BoxError, SessionBody};
use crate::protocol::headers::{MCP_SESSION_ID, TEXT_EVENT_STREAM};
use crate::protocol::jsonrpc::Answer;
use crate::service::InnerBody;

/// Largest inner response the layer buffers to read an answer it must act on.
const MAX_BUFFERED_ANSWER: usize = 4 * 1024 * 1024;

/// Calls the inner service once it is ready.
pub(crate) async fn call<S, B>(
    mut inner: S,
    request: Request<InnerBody>,
) -> Result<Response<B>, S::Error>
where
    S: Service<Request<InnerBody>, Response = Response<B>>,
{
    std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
    inner.call(request).await
}

/// Whether a response is an SSE stream.
pub(crate) fn is_sse<B>(response: &Response<B>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with(TEXT_EVENT_STREAM))
}

/// Drops a session id the inner service may have minted itself: sessions are the layer's.
pub(crate) fn strip_session_header<B>(response: &mut Response<B>) {
    response.headers_mut().remove(&MCP_SESSION_ID);
}

/// An inner response read to the end, with the answer to one request found in it.
pub(crate) struct Buffered {
    pub(crate) parts: http::response::Parts,
    pub(crate) bytes: Bytes,
    pub(crate) answer: Option<Answer>,
}

impl Buffered {
    pub(crate) fn into_response<B>(self) -> Response<SessionBody<B>> {
        Response::from_parts(self.parts, SessionBody::full(self.bytes))
    }
}

/// Reads a complete inner response (JSON or SSE) and finds the answer to request `id`.
/// Used only for the short answers the layer must act on (initialize, setLevel, subscribe).
pub(crate) async fn buffer<B>(response: Response<B>, id: &RawValue) -> Result<Buffered, BoxError>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let sse = is_sse(&response);
    let (parts, body) = response.into_parts();
    let bytes = Limited::new(body, MAX_BUFFERED_ANSWER)
        .collect()
        .await?
        .to_bytes();
    let answer = if sse {
        sse_answer(bytes.clone(), id).await
    } else {
        serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|value| Answer::find(&value, id))
    };
    Ok(Buffered {
        parts,
        bytes,
        answer,
    })
}

async fn sse_answer(bytes: Bytes, id: &RawValue) -> Option<Answer> {
    use eventsource_stream::Eventsource;
    let mut events = stream::iter([Ok::<_, std::convert::Infallible>(bytes)]).eventsource();
    while let Some(Ok(event)) = events.next().await {
        let found = serde_json::from_str::<Value>(&event.data)
            .ok()
            .and_then(|value| Answer::find(&value, id));
        if found.is_some() {
            return found;
        }
    }
    None
}
