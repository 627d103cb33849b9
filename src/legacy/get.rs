//! GET: the session's standalone SSE stream, through the hub.

use http::{header, HeaderValue, Response, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::session::load_session;
use crate::body::{BoxError, SessionBody};
use crate::hub::EventId;
use crate::layer::Config;
use crate::protocol::accept::accepts;
use crate::protocol::headers::{LAST_EVENT_ID, TEXT_EVENT_STREAM};
use crate::protocol::jsonrpc::code;
use crate::protocol::rejection::Rejection;
use crate::protocol::version::wants_priming;
use crate::service::Reply;
use crate::sse::{self, KeepAlive};

/// GET: the session's standalone SSE stream, through the hub.
pub(crate) async fn get<B>(config: &Config, parts: http::request::Parts) -> Reply<B> {
    if !accepts(&parts.headers, TEXT_EVENT_STREAM) {
        return Rejection::new(
            StatusCode::NOT_ACCEPTABLE,
            code::SERVER_ERROR,
            "Not Acceptable: Client must accept text/event-stream",
        )
        .into_response();
    }
    let record = match load_session(config, &parts).await {
        Ok(record) => record,
        Err(rejection) => return rejection.into_response(),
    };
    let after = match parts.headers.get(&LAST_EVENT_ID) {
        None => None,
        Some(value) => match value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<EventId>().ok())
        {
            Some(id) => Some(id),
            None => {
                return Rejection::bad_request(
                    "Bad Request: Last-Event-ID was not issued by this server",
                )
                .into_response()
            }
        },
    };
    let opened = match config
        .hub
        .open_session_stream(&record.id, after.as_ref())
        .await
    {
        Ok(opened) => opened,
        Err(error) => return Rejection::unavailable(&error).into_response(),
    };
    let head = if wants_priming(&record.protocol_version) {
        sse::priming(&opened.cursor, config.retry)
    } else {
        sse::retry(config.retry)
    };
    use futures_util::StreamExt;
    // A resumed POST stream ends with the response it was carrying; the standalone stream
    // stays open.
    let resumes_post = after.as_ref().is_some_and(|a| !a.stream.is_standalone());
    let events = opened.events.scan(false, move |answered, event| {
        let next = (!*answered).then(|| {
            *answered = resumes_post && is_response(&event.data);
            event
        });
        std::future::ready(next)
    });
    // The hub ends a stream when a newer one replaces it, when its client fell too far
    // behind, or when the session closed: its client should come back at once (resuming with
    // `Last-Event-ID`), not after the usual delay.
    let tail = futures_util::stream::iter([Ok(sse::retry(sse::RESUME_AT_ONCE))]);
    let events = futures_util::stream::iter([Ok::<_, BoxError>(head)])
        .chain(events.map(|event| Ok(sse::event(Some(&event.id), None, &event.data))))
        .chain(tail);
    sse_response(SessionBody::stream(KeepAlive::new(
        events,
        config.keep_alive,
    )))
}

/// Whether a message is a JSON-RPC response (not a request or notification).
fn is_response(message: &str) -> bool {
    #[derive(Deserialize)]
    struct Shape<'a> {
        #[serde(borrow, default)]
        method: Option<&'a str>,
        #[serde(borrow, default)]
        result: Option<&'a RawValue>,
        #[serde(borrow, default)]
        error: Option<&'a RawValue>,
    }
    serde_json::from_str::<Shape<'_>>(message)
        .is_ok_and(|m| m.method.is_none() && (m.result.is_some() || m.error.is_some()))
}

/// A 200 `text/event-stream` response around `body`.
pub(crate) fn sse_response<B>(body: SessionBody<B>) -> Reply<B> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TEXT_EVENT_STREAM),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
