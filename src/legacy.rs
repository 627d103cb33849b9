//! The legacy, sessionful era (2025-03-26 … 2025-11-25): `initialize` mints a session, every
//! later request is checked against its record, GET opens the standalone stream, DELETE ends
//! the session.

use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tower_service::Service;

use crate::body::{BoxError, SessionBody};
use crate::context::{now_ms, LogLevel, McpContext, SessionId, SessionRecord};
use crate::hub::EventId;
use crate::inner::{self, Buffered};
use crate::layer::Config;
use crate::notify::cancellation_key;
use crate::post_stream::{PostStream, Sink, StreamControl};
use crate::protocol::accept::accepts;
use crate::protocol::headers::{
    APPLICATION_JSON, LAST_EVENT_ID, MCP_PROTOCOL_VERSION, MCP_SESSION_ID, TEXT_EVENT_STREAM,
};
use crate::protocol::jsonrpc::{code, notification, result_body, Answer, Envelope, Incoming, Kind};
use crate::protocol::rejection::Rejection;
use crate::protocol::version::{era_of, wants_priming, Era};
use crate::service::{or_reject, InnerBody, Reply};
use crate::sse::{self, KeepAlive};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitializeParams {
    #[serde(default)]
    protocol_version: Option<String>,
    #[serde(default)]
    capabilities: Option<Value>,
    #[serde(default)]
    client_info: Option<Value>,
}

/// Most bytes of `clientInfo` and `capabilities` (as JSON) a session record keeps.
const MAX_CLIENT_DESCRIPTION: usize = 16 * 1024;

/// `initialize`: forwarded to the inner service; on success the layer mints the session id
/// and stores the record before the client ever sees the id.
pub(crate) async fn initialize<S, B>(
    config: &Config,
    inner: S,
    mut parts: http::request::Parts,
    bytes: Bytes,
    incoming: Incoming,
) -> Result<Reply<B>, S::Error>
where
    S: Service<Request<InnerBody>, Response = Response<B>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let Some(message) = incoming.single().filter(|m| m.kind == Kind::Request) else {
        return Ok(Rejection::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "Invalid Request: initialize must be sent alone, as a request",
        )
        .into_response());
    };
    let id = message.id.as_deref();
    let params: InitializeParams = or_reject!(message.params_as().map_err(|_| {
        Rejection::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_PARAMS,
            "Invalid params: initialize needs an object",
        )
        .with_id(id)
    }));
    // The record keeps what the client says of itself for as long as the session lives.
    let described = params
        .client_info
        .as_ref()
        .map_or(0, |v| v.to_string().len())
        + params
            .capabilities
            .as_ref()
            .map_or(0, |v| v.to_string().len());
    if described > MAX_CLIENT_DESCRIPTION {
        return Ok(Rejection::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_PARAMS,
            "Invalid params: clientInfo and capabilities exceed 16 KiB",
        )
        .with_id(id)
        .into_response());
    }
    let requested = params.protocol_version.unwrap_or_default();
    let session_id = SessionId::generate();
    let principal = config
        .principal
        .as_ref()
        .and_then(|extract| extract(&parts));
    let context = McpContext {
        era: Era::Legacy,
        session_id: Some(session_id.clone()),
        protocol_version: requested.clone(),
        client_info: params.client_info,
        client_capabilities: params
            .capabilities
            .unwrap_or_else(|| Value::Object(Default::default())),
        log_level: None,
        principal,
    };
    parts.extensions.insert(context.clone());
    parts.extensions.insert(config.notifier.clone());
    parts.extensions.insert(StreamControl::default());

    let mut response =
        inner::call(inner, Request::from_parts(parts, InnerBody::new(bytes))).await?;
    inner::strip_session_header(&mut response);
    let request_id = message.id.as_deref().unwrap_or_else(|| null_id());
    let buffered = match inner::buffer(response, request_id).await {
        Ok(buffered) => buffered,
        Err(error) => {
            tracing::warn!(%error, "inner initialize response unreadable");
            return Ok(Rejection::new(
                StatusCode::BAD_GATEWAY,
                code::SERVER_ERROR,
                "initialize failed",
            )
            .with_id(id)
            .into_response());
        }
    };
    let Some(Answer::Result(result)) = &buffered.answer else {
        return Ok(buffered.into_response());
    };
    let negotiated = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or(&requested)
        .to_owned();

    let now = now_ms();
    let mut record = SessionRecord::new(
        session_id.clone(),
        negotiated,
        now,
        config.idle_timeout_ms(),
    );
    record.client_info = context.client_info;
    record.client_capabilities = context.client_capabilities;
    record.principal = context.principal;
    if let Err(error) = config.store.create(&record).await {
        return Ok(Rejection::unavailable(&error).with_id(id).into_response());
    }
    tracing::debug!(session = %session_id.log_tag(), version = %record.protocol_version, "session created");
    let mut response = buffered.into_response();
    response.headers_mut().insert(
        MCP_SESSION_ID,
        HeaderValue::from_str(session_id.as_str()).expect("minted ids are visible ASCII"),
    );
    Ok(response)
}

fn null_id() -> &'static RawValue {
    serde_json::from_str("null").expect("null is JSON")
}

/// Finds the session a request names and checks it may use it: 400 without an id, 404 for an
/// unknown, expired, deleted or foreign session, 503 when the store fails. Extends the
/// session's life when less than half of it remains.
async fn load_session(
    config: &Config,
    parts: &http::request::Parts,
) -> Result<SessionRecord, Rejection> {
    let Some(raw) = parts.headers.get(&MCP_SESSION_ID) else {
        return Err(Rejection::bad_request(
            "Bad Request: Mcp-Session-Id header is required",
        ));
    };
    let Some(id) = raw.to_str().ok().and_then(|s| s.parse::<SessionId>().ok()) else {
        return Err(Rejection::session_not_found());
    };
    if let Some(version) = parts.headers.get(&MCP_PROTOCOL_VERSION) {
        let version = version.to_str().unwrap_or_default().trim();
        if era_of(version) != Some(Era::Legacy) {
            return Err(Rejection::bad_request(format!(
                "Bad Request: Unsupported protocol version: {version}"
            )));
        }
    }
    let mut record = match config.store.load(&id).await {
        Ok(Some(record)) => record,
        Ok(None) => return Err(Rejection::session_not_found()),
        Err(error) => return Err(Rejection::unavailable(&error)),
    };
    if let Some(bound) = &record.principal {
        let caller = config.principal.as_ref().and_then(|extract| extract(parts));
        if caller.as_deref() != Some(bound.as_str()) {
            return Err(Rejection::session_not_found());
        }
    }
    let now = now_ms();
    let ttl = config.idle_timeout_ms();
    if record.needs_refresh(now, ttl) {
        record.expires_at_ms = now.saturating_add(ttl);
        // The session is still alive until its old expiry: a failed extension is logged and
        // the request served anyway.
        if let Err(error) = config.store.extend(&record).await {
            tracing::warn!(%error, session = %record.id.log_tag(), "could not extend session");
        } else if let Err(error) = config
            .hub
            .extend_subscriptions(&record.id, record.expires_at_ms)
            .await
        {
            // Subscriptions lapse with the session unless extended with it.
            tracing::warn!(%error, session = %record.id.log_tag(), "could not extend subscriptions");
        }
    }
    Ok(record)
}

/// A POST in an existing session.
pub(crate) async fn post<S, B>(
    config: &Config,
    inner: S,
    mut parts: http::request::Parts,
    bytes: Bytes,
    incoming: Incoming,
) -> Result<Reply<B>, S::Error>
where
    S: Service<Request<InnerBody>, Response = Response<B>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
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

    or_reject!(route_client_responses(config, &record.id, &bytes, &incoming).await);
    route_cancellations(config, &record.id, &incoming).await;
    let bytes = or_reject!(without_responses(bytes, &incoming));
    if !incoming.has_requests() {
        if !incoming
            .messages
            .iter()
            .any(|m| m.kind == Kind::Notification)
        {
            return Ok(accepted());
        }
        // Notifications go to the inner service; the client only needs the 202.
        parts.extensions.insert(record.context());
        parts.extensions.insert(config.notifier.clone());
        let response =
            inner::call(inner, Request::from_parts(parts, InnerBody::new(bytes))).await?;
        // The spec answers accepted notifications with 202 and no body, whatever the inner
        // service chose; its refusals pass on.
        if response.status().is_success() {
            return Ok(accepted());
        }
        let mut response = response;
        inner::strip_session_header(&mut response);
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
    parts.extensions.insert(record.context());
    parts.extensions.insert(config.notifier.clone());
    parts.extensions.insert(control.clone());
    let mut response =
        inner::call(inner, Request::from_parts(parts, InnerBody::new(bytes))).await?;
    inner::strip_session_header(&mut response);
    if !inner::is_sse(&response) {
        return Ok(response.map(SessionBody::inner));
    }
    let sink = Sink {
        session,
        hub: config.hub.clone(),
        executor: config.executor.clone(),
    };
    let keep_alive = config.keep_alive;
    let retry = config.retry;
    Ok(response.map(|body| {
        let stream = PostStream::new(body, control, sink, priming, retry);
        SessionBody::stream(KeepAlive::new(stream, keep_alive))
    }))
}

fn accepted<B>() -> Reply<B> {
    let mut response = Response::new(SessionBody::empty());
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

/// JSON-RPC responses the client POSTs back answer server-to-client requests: the hub routes
/// them to whoever waits, wherever it runs.
async fn route_client_responses(
    config: &Config,
    session: &SessionId,
    bytes: &Bytes,
    incoming: &Incoming,
) -> Result<(), Rejection> {
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
    for (index, message) in responses {
        let Some(key) = message.id_key() else {
            continue;
        };
        let text: Arc<str> = match &raw_batch {
            Some(items) => items[index].get().into(),
            None => String::from_utf8_lossy(bytes).into(),
        };
        match config.hub.deliver_response(session, &key, text).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(session = %session.log_tag(), id = %key, "client response nobody waits for")
            }
            Err(error) => return Err(Rejection::unavailable(&error)),
        }
    }
    Ok(())
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

/// The body without the client responses the layer already routed (batches only).
fn without_responses(bytes: Bytes, incoming: &Incoming) -> Result<Bytes, Rejection> {
    if !incoming.batch || !incoming.messages.iter().any(|m| m.kind == Kind::Response) {
        return Ok(bytes);
    }
    let items: Vec<&RawValue> = serde_json::from_slice(&bytes)
        .map_err(|_| Rejection::bad_request("Bad Request: unreadable batch"))?;
    let kept: Vec<&RawValue> = items
        .into_iter()
        .zip(&incoming.messages)
        .filter(|(_, m)| m.kind != Kind::Response)
        .map(|(raw, _)| raw)
        .collect();
    Ok(serde_json::to_vec(&kept)
        .map(Bytes::from)
        .unwrap_or_default())
}

/// Calls the inner service for a method the layer records, and reads its answer.
async fn call_recorded<S, B>(
    config: &Config,
    inner: S,
    mut parts: http::request::Parts,
    bytes: Bytes,
    message: &Envelope,
    record: &SessionRecord,
) -> Result<Result<Buffered, Rejection>, S::Error>
where
    S: Service<Request<InnerBody>, Response = Response<B>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    parts.extensions.insert(record.context());
    parts.extensions.insert(config.notifier.clone());
    let mut response =
        inner::call(inner, Request::from_parts(parts, InnerBody::new(bytes))).await?;
    inner::strip_session_header(&mut response);
    let id = message.id.as_deref().unwrap_or_else(|| null_id());
    Ok(inner::buffer(response, id).await.map_err(|error| {
        tracing::warn!(%error, "inner response unreadable");
        Rejection::new(
            StatusCode::BAD_GATEWAY,
            code::SERVER_ERROR,
            "inner service failed",
        )
        .with_id(Some(id))
    }))
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
async fn set_level<S, B>(
    config: &Config,
    inner: S,
    parts: http::request::Parts,
    bytes: Bytes,
    message: &Envelope,
    record: SessionRecord,
) -> Result<Reply<B>, S::Error>
where
    S: Service<Request<InnerBody>, Response = Response<B>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let id = message.id.as_deref().unwrap_or_else(|| null_id());
    let Ok(SetLevelParams { level }) = message.params_as() else {
        return Ok(invalid_params(
            id,
            "Invalid params: level must be a log level",
        ));
    };
    let buffered = or_reject!(call_recorded(config, inner, parts, bytes, message, &record).await?);
    let reply = match verdict(buffered, id) {
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
async fn set_subscription<S, B>(
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
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let id = message.id.as_deref().unwrap_or_else(|| null_id());
    let Ok(SubscribeParams { uri }) = message.params_as() else {
        return Ok(invalid_params(id, "Invalid params: uri must be a string"));
    };
    let buffered = or_reject!(call_recorded(config, inner, parts, bytes, message, &record).await?);
    let reply = match verdict(buffered, id) {
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

/// DELETE: ends the session and its streams.
pub(crate) async fn delete<B>(config: &Config, parts: http::request::Parts) -> Reply<B> {
    let record = match load_session(config, &parts).await {
        Ok(record) => record,
        Err(rejection) => return rejection.into_response(),
    };
    if let Err(error) = config.store.delete(&record.id).await {
        return Rejection::unavailable(&error).into_response();
    }
    if let Err(error) = config.hub.close_session(&record.id).await {
        // The session is gone from the store; its streams end when they next hear from it.
        tracing::warn!(%error, session = %record.id.log_tag(), "could not close the session's streams");
    }
    tracing::debug!(session = %record.id.log_tag(), "session deleted");
    let mut response = Response::new(SessionBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}
