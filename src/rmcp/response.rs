//! Turning an [`Exchange`] into the HTTP response: JSON when the answers are all there is to
//! say, an SSE stream as soon as the handler sends anything else.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_timer::Delay;
use futures_util::future::{select, Either};
use futures_util::{stream, FutureExt, StreamExt};
use http::{header, HeaderValue, Response, StatusCode};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};

use super::exchange::{Exchange, Outgoing};
use crate::protocol::headers::{APPLICATION_JSON, TEXT_EVENT_STREAM};
use crate::sse;

/// The body of [`RmcpService`](super::RmcpService)'s responses.
pub type RmcpBody = UnsyncBoxBody<Bytes, Infallible>;

/// How long the handler has to answer for the answer to be sent as plain JSON. A slower
/// request becomes an SSE stream: it then gets keep-alives (Cloudflare cuts connections idle
/// for about 100 s) and, in the legacy era, survives a disconnect (see
/// [`SessionLayer::with_executor`](crate::SessionLayer::with_executor)).
const ANSWER_PATIENCE: Duration = Duration::from_millis(50);

/// Waits for what the handler says first and answers accordingly.
pub(crate) async fn respond(mut exchange: Exchange, batch: bool) -> Response<RmcpBody> {
    if !exchange.had_requests() {
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

fn json(status: StatusCode, body: String) -> Response<RmcpBody> {
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(APPLICATION_JSON),
    );
    response
}

pub(crate) fn status_only(status: StatusCode) -> Response<RmcpBody> {
    let mut response = Response::new(Empty::new().map_err(|never| match never {}).boxed_unsync());
    *response.status_mut() = status;
    response
}

fn event_stream(sent: Vec<Outgoing>, exchange: Exchange) -> Response<RmcpBody> {
    let events = stream::iter(sent)
        .chain(exchange)
        .map(|outgoing| Ok::<_, Infallible>(Frame::data(sse::event(None, None, &outgoing.json))));
    // In a Worker the exchange holds rmcp's `!Send` tasks; the isolate has one thread.
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
