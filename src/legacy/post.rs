//! A POST in an existing session: client responses and cancellations routed through the hub
//! (a response no layer waiter expects goes on to the inner service, which sent that request
//! itself), notifications answered 202, requests passed on (their SSE answers made resumable).

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tower_service::Service;

use super::recorded::{set_level, set_subscription};
use super::session::load_session;
use crate::body::{InnerResponseBody, SessionBody};
use crate::context::SessionId;
use crate::inner::{self};
use crate::layer::Config;
use crate::notify::cancellation_key;
use crate::post_stream::{PostStream, Sink, StreamControl};
use crate::protocol::jsonrpc::{code, notification, Incoming, Kind};
use crate::protocol::rejection::Rejection;
use crate::protocol::version::wants_priming;
use crate::service::{or_reject, InnerBody, Reply};
use crate::sse::KeepAlive;

/// A POST in an existing session.
pub(crate) async fn post<S, B>(
    config: &Config,
    inner: S,
    parts: http::request::Parts,
    bytes: Bytes,
    incoming: Incoming,
) -> Result<Reply<B>, S::Error>
where
    S: Service<Request<InnerBody>, Response = Response<B>>,
    B: InnerResponseBody,
{
    let record = or_reject!(load_session(config, &parts).await);
    if incoming.batch && record.protocol_version != "2025-03-26" {
        return Ok(Rejection::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "Invalid Request: batches exist only in protocol version 2025-03-26",
        )
        .into_response());
    }

    let delivered = or_reject!(route_client_responses(config, &record.id, &bytes, &incoming).await);
    route_cancellations(config, &record.id, &incoming).await;
    let bytes = or_reject!(without_delivered(bytes, &incoming, &delivered));
    if !incoming.has_requests() {
        if delivered.len() == incoming.messages.len() {
            return Ok(accepted());
        }
        // Notifications, and answers to requests the inner service sent itself, go to the
        // inner service; the client only needs the 202.
        let response = inner::call(
            inner,
            parts,
            bytes,
            record.context(),
            &config.notifier,
            None,
        )
        .await?;
        // The spec answers accepted notifications with 202 and no body, whatever the inner
        // service chose; its refusals pass on.
        if response.status().is_success() {
            return Ok(accepted());
        }
        return Ok(response.map(SessionBody::inner));
    }

    if let Some(message) = incoming.single() {
        match message.method.as_deref() {
            Some("logging/setLevel") => {
                return set_level(config, inner, parts, bytes, message, record).await
            }
            Some(method @ ("resources/subscribe" | "resources/unsubscribe")) => {
                let subscribe = method == "resources/subscribe";
                return set_subscription(config, inner, parts, bytes, message, record, subscribe)
                    .await;
            }
            _ => {}
        }
    }

    let control = StreamControl::default();
    let priming = wants_priming(&record.protocol_version);
    let session = record.id.clone();
    let response = inner::call(
        inner,
        parts,
        bytes,
        record.context(),
        &config.notifier,
        Some(control.clone()),
    )
    .await?;
    if !inner::is_sse(&response) {
        return Ok(response.map(SessionBody::inner));
    }
    let sink = Sink {
        session,
        hub: config.hub.clone(),
        executor: config.executor.clone(),
        detached: config.detached.clone(),
    };
    let requests = incoming
        .messages
        .iter()
        .filter(|m| m.kind == Kind::Request)
        .filter_map(|m| m.id.clone())
        .collect();
    let keep_alive = config.keep_alive;
    let retry = config.retry;
    Ok(response.map(|body| {
        let stream = PostStream::new(body, requests, control, sink, priming, retry);
        SessionBody::stream(KeepAlive::new(stream, keep_alive))
    }))
}

fn accepted<B>() -> Reply<B> {
    let mut response = Response::new(SessionBody::empty());
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

/// JSON-RPC responses the client POSTs back answer server-to-client requests: the hub routes
/// them to whoever waits, wherever it runs. Returns the indices (in `incoming.messages`) of the
/// responses it delivered; one nobody waits for answers a request the inner service sent on
/// its own stream, and goes on to it.
async fn route_client_responses(
    config: &Config,
    session: &SessionId,
    bytes: &Bytes,
    incoming: &Incoming,
) -> Result<Vec<usize>, Rejection> {
    let responses = incoming
        .messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == Kind::Response);
    let raw_batch: Option<Vec<&RawValue>> = match incoming.batch {
        true => Some(
            serde_json::from_slice(bytes)
                .map_err(|_| Rejection::bad_request("Bad Request: unreadable batch"))?,
        ),
        false => None,
    };
    let mut delivered = Vec::new();
    for (index, message) in responses {
        let Some(key) = message.id_key() else {
            continue;
        };
        let text: Arc<str> = match &raw_batch {
            Some(items) => items[index].get().into(),
            None => String::from_utf8_lossy(bytes).into(),
        };
        match config.hub.deliver_response(session, &key, text).await {
            Ok(true) => delivered.push(index),
            Ok(false) => {
                tracing::debug!(session = %session.log_tag(), id = %key, "client response for the inner service")
            }
            Err(error) => return Err(Rejection::unavailable(&error)),
        }
    }
    Ok(delivered)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelledParams {
    request_id: Value,
}

/// `notifications/cancelled` may reach another instance than the one running the request:
/// the hub carries it to whoever waits (see [`Notifier::cancellation`]). The notification
/// also goes on to the inner service, for one that tracks its requests itself.
///
/// [`Notifier::cancellation`]: crate::Notifier::cancellation
async fn route_cancellations(config: &Config, session: &SessionId, incoming: &Incoming) {
    let cancellations = incoming
        .messages
        .iter()
        .filter(|m| m.method.as_deref() == Some("notifications/cancelled"));
    for message in cancellations {
        let Ok(CancelledParams { request_id }) = message.params_as() else {
            continue;
        };
        let key = cancellation_key(&request_id.to_string());
        let text: Arc<str> = notification(
            "notifications/cancelled",
            serde_json::json!({ "requestId": request_id }),
        )
        .to_string()
        .into();
        if let Err(error) = config.hub.deliver_response(session, &key, text).await {
            // The request then runs to its end; the client ignores its answer.
            tracing::warn!(%error, session = %session.log_tag(), "could not route a cancellation");
        }
    }
}

/// The body without the client responses the hub delivered (`delivered`: their indices).
fn without_delivered(
    bytes: Bytes,
    incoming: &Incoming,
    delivered: &[usize],
) -> Result<Bytes, Rejection> {
    if delivered.is_empty() {
        return Ok(bytes);
    }
    if !incoming.batch {
        return Ok(Bytes::new());
    }
    let items: Vec<&RawValue> = serde_json::from_slice(&bytes)
        .map_err(|_| Rejection::bad_request("Bad Request: unreadable batch"))?;
    let kept: Vec<&RawValue> = items
        .into_iter()
        .enumerate()
        .filter(|(index, _)| !delivered.contains(index))
        .map(|(_, raw)| raw)
        .collect();
    Ok(serde_json::to_vec(&kept)
        .map(Bytes::from)
        .unwrap_or_default())
}
