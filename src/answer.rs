//! The HTTP response of a server adapter (`rmcp`, `tower-mcp`) that runs a handler for one
//! request: JSON when the answers are all there is to say, an SSE stream as soon as the
//! handler sends anything else.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_timer::Delay;
use futures_util::future::{select, Either};
use futures_util::{stream, FutureExt, StreamExt};
use http::{header, request, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};

use futures_util::Stream;
use http_body::Body;
use http_body_util::Limited;
use serde_json::Value;

use crate::body::BoxError;
use crate::protocol::jsonrpc::code;
use crate::protocol::rejection::Rejection;

use crate::context::{LogLevel, McpContext};
use crate::protocol::headers::{APPLICATION_JSON, MCP_PROTOCOL_VERSION, TEXT_EVENT_STREAM};
use crate::protocol::version::{is_stateless_era, Era};
use crate::sse;

/// The body of the server adapters' responses.
pub(crate) type AnswerBody = UnsyncBoxBody<Bytes, Infallible>;

/// Largest request body read when no layer in front has bounded it already.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// A POST's parts and JSON-RPC messages (and whether they came as a batch); the refusal for
/// anything else. GET streams and DELETE are the layer's.
pub(crate) async fn read_post<B>(
    request: Request<B>,
) -> Result<(request::Parts, Vec<Value>, bool), Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    if parts.method != Method::POST {
        return Err(Rejection::method_not_allowed("POST"));
    }
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            return Err(Rejection::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_REQUEST,
                format!("Bad Request: could not read body: {error}"),
            ))
        }
    };
    let value: Value = serde_json::from_slice(&bytes).map_err(|error| {
        Rejection::new(
            StatusCode::BAD_REQUEST,
            code::PARSE_ERROR,
            format!("Parse error: {error}"),
        )
    })?;
    match value {
        Value::Array(items) if !items.is_empty() => Ok((parts, items, true)),
        Value::Array(_) => Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "Invalid Request: empty batch",
        )),
        one => Ok((parts, vec![one], false)),
    }
}

/// The era a request speaks: as the layer classified it, or (no layer in front) as its
/// `MCP-Protocol-Version` header says.
pub(crate) fn request_era(parts: &request::Parts) -> Era {
    match parts.extensions.get::<McpContext>() {
        Some(context) => context.era,
        None => match parts
            .headers
            .get(&MCP_PROTOCOL_VERSION)
            .and_then(|v| v.to_str().ok())
        {
            Some(version) if is_stateless_era(version.trim()) => Era::Stateless,
            _ => Era::Legacy,
        },
    }
}

/// A refusal as the adapter's response.
pub(crate) fn refused(rejection: Rejection) -> Response<AnswerBody> {
    rejection.into_http(|text| Full::new(Bytes::from(text)).boxed_unsync())
}

/// `Send` natively; anything in a Worker, where the handler's futures are `!Send` and the
/// isolate has one thread (the stream is wrapped in a `SendWrapper` there).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send> MaybeSend for T {}
#[cfg(target_arch = "wasm32")]
pub(crate) trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T> MaybeSend for T {}

/// A message for the client, serialized.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) json: String,
    /// For the answer to one of the request's own requests: its HTTP status, should it be the
    /// whole response.
    pub(crate) answer_status: Option<StatusCode>,
}

/// How long the handler has to answer for the answer to be sent as plain JSON. A slower
/// request becomes an SSE stream: it then gets keep-alives (Cloudflare cuts connections idle
/// for about 100 s) and, in the legacy era, survives a disconnect (see
/// [`SessionLayer::with_executor`](crate::SessionLayer::with_executor)).
const ANSWER_PATIENCE: Duration = Duration::from_millis(50);

/// Waits for what the handler says first (`exchange`: everything it sends, ending once every
/// request is answered) and answers accordingly.
pub(crate) async fn respond<S>(
    mut exchange: S,
    had_requests: bool,
    batch: bool,
) -> Response<AnswerBody>
where
    S: Stream<Item = Outgoing> + Unpin + MaybeSend + 'static,
{
    if !had_requests {
        // Notifications only: accepted once their handlers ran.
        while exchange.next().await.is_some() {}
        return status_only(StatusCode::ACCEPTED);
    }
    let mut answers = Vec::new();
    // Started only once an answer is not there at once (most are, in a Worker).
    let mut patience: Option<Delay> = None;
    loop {
        let next = match exchange.next().now_or_never() {
            Some(next) => next,
            None => {
                let patience = patience.get_or_insert_with(|| Delay::new(ANSWER_PATIENCE));
                match select(exchange.next(), patience).await {
                    Either::Left((next, _)) => next,
                    Either::Right(((), _)) => return event_stream(answers, exchange),
                }
            }
        };
        let Some(outgoing) = next else { break };
        if outgoing.answer_status.is_none() {
            answers.push(outgoing);
            return event_stream(answers, exchange);
        }
        answers.push(outgoing);
    }
    match (answers.len(), batch) {
        // Cancelled before it said anything: a stream with nothing in it.
        (0, _) => event_stream(Vec::new(), exchange),
        (1, false) => {
            let answer = answers.remove(0);
            let status = answer.answer_status.unwrap_or(StatusCode::OK);
            json(status, answer.json)
        }
        _ => {
            let items: Vec<String> = answers.into_iter().map(|a| a.json).collect();
            json(StatusCode::OK, format!("[{}]", items.join(",")))
        }
    }
}

fn json(status: StatusCode, body: String) -> Response<AnswerBody> {
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(APPLICATION_JSON),
    );
    response
}

pub(crate) fn status_only(status: StatusCode) -> Response<AnswerBody> {
    let mut response = Response::new(Empty::new().map_err(|never| match never {}).boxed_unsync());
    *response.status_mut() = status;
    response
}

fn event_stream<S>(sent: Vec<Outgoing>, exchange: S) -> Response<AnswerBody>
where
    S: Stream<Item = Outgoing> + MaybeSend + 'static,
{
    let events = stream::iter(sent)
        .chain(exchange)
        .map(|outgoing| Ok::<_, Infallible>(Frame::data(sse::event(None, None, &outgoing.json))));
    // In a Worker the exchange holds the handler's `!Send` tasks; the isolate has one thread.
    #[cfg(target_arch = "wasm32")]
    let events = send_wrapper::SendWrapper::new(events);
    let mut response = Response::new(StreamBody::new(events).boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TEXT_EVENT_STREAM),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The HTTP status of an answer that is the whole response: in the stateless era some errors
/// are also HTTP errors (a client that sent the wrong headers or version, or a method the
/// server lacks); in the legacy era every JSON-RPC answer is a 200.
pub(crate) fn answer_status(error_code: Option<i64>, era: Era) -> StatusCode {
    use crate::protocol::jsonrpc::code;
    match (era, error_code) {
        (Era::Stateless, Some(code::UNSUPPORTED_VERSION))
        | (Era::Stateless, Some(code::MISSING_CLIENT_CAPABILITY))
        | (Era::Stateless, Some(code::HEADER_MISMATCH)) => StatusCode::BAD_REQUEST,
        (Era::Stateless, Some(code::METHOD_NOT_FOUND)) => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

/// Which `notifications/message` the client gets.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LogFilter {
    /// Everything the handler logs: a legacy client that never set a level (the server
    /// chooses), or no layer in front.
    All,
    /// Messages at or above this level.
    AtLeast(LogLevel),
    /// None: a stateless request without `_meta` log level.
    Nothing,
}

impl LogFilter {
    /// What the client asked for (a layer in front) or everything (none).
    pub(crate) fn of(context: Option<&McpContext>) -> Self {
        match context {
            None => Self::All,
            Some(context) => match (context.log_level, context.era) {
                (Some(level), _) => Self::AtLeast(level),
                (None, Era::Legacy) => Self::All,
                (None, Era::Stateless) => Self::Nothing,
            },
        }
    }

    /// Whether a log message whose level serializes as `level` may go to the client.
    pub(crate) fn admits_level(self, level: &impl serde::Serialize) -> bool {
        match self {
            Self::All => true,
            Self::Nothing => false,
            Self::AtLeast(minimum) => serde_json::to_value(level)
                .and_then(serde_json::from_value::<LogLevel>)
                .is_ok_and(|level| minimum.admits(level)),
        }
    }
}
