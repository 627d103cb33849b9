//! The requests whose outcome the layer keeps: `logging/setLevel` (the store) and
//! `resources/subscribe` / `resources/unsubscribe` (the hub).

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tower_service::Service;

use super::session::null_id;
use crate::body::{InnerResponseBody, SessionBody};
use crate::context::{LogLevel, SessionRecord};
use crate::inner::{self, Buffered};
use crate::layer::Config;
use crate::protocol::headers::APPLICATION_JSON;
use crate::protocol::jsonrpc::{code, result_body, Answer, Envelope};
use crate::protocol::rejection::Rejection;
use crate::service::{InnerBody, Reply};

/// Calls the inner service for a method the layer records, and reads what it decided.
async fn call_recorded<S, B>(
    config: &Config,
    inner: S,
    parts: http::request::Parts,
    bytes: Bytes,
    message: &Envelope,
    record: &SessionRecord,
) -> Result<Verdict<B>, S::Error>
where
    S: Service<Request<InnerBody>, Response = Response<B>>,
    B: InnerResponseBody,
{
    let response = inner::call(
        inner,
        parts,
        bytes,
        record.context(),
        &config.notifier,
        None,
    )
    .await?;
    let id = message.id.as_deref().unwrap_or_else(|| null_id());
    Ok(match inner::buffer(response, id).await {
        Ok(buffered) => verdict(buffered, id),
        Err(error) => {
            tracing::warn!(%error, "inner response unreadable");
            let failed = Rejection::new(
                StatusCode::BAD_GATEWAY,
                code::SERVER_ERROR,
                "inner service failed",
            );
            Verdict::PassOn(failed.with_id(Some(id)).into_response())
        }
    })
}

/// What to do with the inner service's answer to a method the layer records.
enum Verdict<B> {
    /// It succeeded, or does not implement the method (then the layer answers `{}`): record
    /// the change and send this answer.
    Record(Reply<B>),
    /// It refused: record nothing and pass its answer on.
    PassOn(Reply<B>),
}

fn verdict<B>(buffered: Buffered, id: &RawValue) -> Verdict<B> {
    match buffered.answer {
        Some(Answer::Result(_)) => Verdict::Record(buffered.into_response()),
        Some(Answer::Error {
            code: code::METHOD_NOT_FOUND,
        }) => {
            let empty = result_body(id, &Value::Object(Default::default()));
            let mut response = Response::new(SessionBody::full(empty));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(APPLICATION_JSON),
            );
            Verdict::Record(response)
        }
        _ => Verdict::PassOn(buffered.into_response()),
    }
}

#[derive(Deserialize)]
struct SetLevelParams {
    level: LogLevel,
}

/// `logging/setLevel`: the level is part of the session record, set by one store operation.
pub(super) async fn set_level<S, B>(
    config: &Config,
    inner: S,
    parts: http::request::Parts,
    bytes: Bytes,
    message: &Envelope,
    record: SessionRecord,
) -> Result<Reply<B>, S::Error>
where
    S: Service<Request<InnerBody>, Response = Response<B>>,
    B: InnerResponseBody,
{
    let id = message.id.as_deref().unwrap_or_else(|| null_id());
    let Ok(SetLevelParams { level }) = message.params_as() else {
        return Ok(invalid_params(
            id,
            "Invalid params: level must be a log level",
        ));
    };
    let reply = match call_recorded(config, inner, parts, bytes, message, &record).await? {
        Verdict::Record(reply) => reply,
        Verdict::PassOn(refusal) => return Ok(refusal),
    };
    if let Err(error) = config.store.set_log_level(&record, level).await {
        return Ok(Rejection::unavailable(&error)
            .with_id(Some(id))
            .into_response());
    }
    Ok(reply)
}

#[derive(Deserialize)]
struct SubscribeParams {
    uri: String,
}

/// `resources/subscribe` and `resources/unsubscribe`: the hub owns subscriptions (next to the
/// index `Notifier::resource_updated` uses); the inner service sees the request first and may
/// refuse it.
pub(super) async fn set_subscription<S, B>(
    config: &Config,
    inner: S,
    parts: http::request::Parts,
    bytes: Bytes,
    message: &Envelope,
    record: SessionRecord,
    subscribe: bool,
) -> Result<Reply<B>, S::Error>
where
    S: Service<Request<InnerBody>, Response = Response<B>>,
    B: InnerResponseBody,
{
    let id = message.id.as_deref().unwrap_or_else(|| null_id());
    let Ok(SubscribeParams { uri }) = message.params_as() else {
        return Ok(invalid_params(id, "Invalid params: uri must be a string"));
    };
    let reply = match call_recorded(config, inner, parts, bytes, message, &record).await? {
        Verdict::Record(reply) => reply,
        Verdict::PassOn(refusal) => return Ok(refusal),
    };
    let hub = &config.hub;
    let changed = if subscribe {
        hub.subscribe(
            &record.id,
            &uri,
            record.expires_at_ms,
            config.max_subscriptions,
        )
        .await
    } else {
        hub.unsubscribe(&record.id, &uri).await.map(|()| true)
    };
    match changed {
        Ok(true) => Ok(reply),
        Ok(false) => Ok(invalid_params(
            id,
            "Invalid params: this session has as many subscriptions as it may",
        )),
        Err(error) => Ok(Rejection::unavailable(&error)
            .with_id(Some(id))
            .into_response()),
    }
}

fn invalid_params<B>(id: &RawValue, message: &'static str) -> Reply<B> {
    Rejection::new(StatusCode::BAD_REQUEST, code::INVALID_PARAMS, message)
        .with_id(Some(id))
        .into_response()
}
