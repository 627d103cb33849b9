//! Calling the inner service and reading what it answered.

use bytes::{Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use http::{header, Request, Response};
use http_body_util::{BodyDataStream, BodyExt, Limited};
use serde_json::value::RawValue;
use serde_json::Value;
use tower_service::Service;

use crate::body::{BoxError, InnerResponseBody, SessionBody};
use crate::context::McpContext;
use crate::notify::Notifier;
use crate::post_stream::StreamControl;
use crate::protocol::headers::{MCP_SESSION_ID, TEXT_EVENT_STREAM};
use crate::protocol::jsonrpc::Answer;
use crate::service::InnerBody;
use crate::sse;

/// Largest inner response the layer buffers to read an answer it must act on, and largest
/// single event of an inner SSE stream it reads.
const MAX_BUFFERED_ANSWER: usize = 4 * 1024 * 1024;

/// Calls the inner service, once it is ready, with what a request runs with: its
/// [`McpContext`], the [`Notifier`] and (a legacy request whose answer may stream) its
/// [`StreamControl`] in the extensions. Sessions are the layer's: the inner service never sees
/// the layer's session id (a framework would look it up in its own store and answer 404; the
/// session's facts are in the context), and a session id it minted itself is dropped from its
/// answer.
pub(crate) async fn call<S, B>(
    mut inner: S,
    mut parts: http::request::Parts,
    bytes: Bytes,
    context: McpContext,
    notifier: &Notifier,
    control: Option<StreamControl>,
) -> Result<Response<B>, S::Error>
where
    S: Service<Request<InnerBody>, Response = Response<B>>,
{
    parts.headers.remove(&MCP_SESSION_ID);
    parts.extensions.insert(context);
    parts.extensions.insert(notifier.clone());
    if let Some(control) = control {
        parts.extensions.insert(control);
    }
    std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
    let mut response = inner
        .call(Request::from_parts(parts, InnerBody::new(bytes)))
        .await?;
    response.headers_mut().remove(&MCP_SESSION_ID);
    Ok(response)
}

/// Whether a response is an SSE stream.
pub(crate) fn is_sse<B>(response: &Response<B>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with(TEXT_EVENT_STREAM))
}

/// One parsed event of the inner stream: its type and data.
pub(crate) type InnerEvents = BoxStream<'static, Result<(String, String), BoxError>>;

/// Parses an inner SSE body into events, dropping the inner service's own priming events.
pub(crate) fn inner_events<B>(body: B) -> InnerEvents
where
    B: InnerResponseBody,
{
    use bytes::Buf;
    use eventsource_stream::Eventsource;
    let mut event_size = EventSize::default();
    BodyDataStream::new(body)
        .map(move |chunk| {
            let bytes = chunk
                .map(|mut data| data.copy_to_bytes(data.remaining()))
                .map_err(Into::into)?;
            event_size.feed(&bytes)?;
            Ok::<_, BoxError>(bytes)
        })
        .eventsource()
        .filter_map(|event| async move {
            match event {
                Ok(event) if event.data.is_empty() => None,
                Ok(event) => Some(Ok((event.event, event.data))),
                Err(error) => Some(Err(BoxError::from(error.to_string()))),
            }
        })
        .boxed()
}

/// The size of the event an inner SSE stream is in the middle of: the parser keeps an event
/// whole until its blank line, so one that never ends must not grow without bound.
#[derive(Default)]
struct EventSize {
    pending: usize,
    after_newline: bool,
}

impl EventSize {
    fn feed(&mut self, chunk: &[u8]) -> Result<(), BoxError> {
        for &byte in chunk {
            if byte == b'\r' {
                continue;
            }
            let newline = byte == b'\n';
            if newline && self.after_newline {
                self.pending = 0; // a blank line ends the event
            } else {
                self.pending += 1;
            }
            self.after_newline = newline;
        }
        if self.pending > MAX_BUFFERED_ANSWER {
            return Err(format!(
                "the inner service sent an SSE event larger than {MAX_BUFFERED_ANSWER} bytes"
            )
            .into());
        }
        Ok(())
    }
}

/// An inner response read up to the answer to one request, with that answer.
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

/// Reads an inner response (JSON, or SSE up to the event answering request `id`: a stream
/// may stay open after its answer) and finds the answer. Used only for the short answers the
/// layer must act on (initialize, setLevel, subscribe); at most 4 MiB are read.
pub(crate) async fn buffer<B>(response: Response<B>, id: &RawValue) -> Result<Buffered, BoxError>
where
    B: InnerResponseBody,
{
    let sse = is_sse(&response);
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_BUFFERED_ANSWER);
    if !sse {
        let bytes = body.collect().await?.to_bytes();
        let answer = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|value| Answer::find(&value, id));
        return Ok(Buffered {
            parts,
            bytes,
            answer,
        });
    }
    let mut events = inner_events(body);
    let mut kept = BytesMut::new();
    let mut answer = None;
    while let Some(event) = events.next().await {
        let (kind, data) = event?;
        kept.extend_from_slice(&sse::event(None, Some(&kind), &data));
        answer = serde_json::from_str::<Value>(&data)
            .ok()
            .and_then(|value| Answer::find(&value, id));
        if answer.is_some() {
            break;
        }
    }
    Ok(Buffered {
        parts,
        bytes: kept.freeze(),
        answer,
    })
}
