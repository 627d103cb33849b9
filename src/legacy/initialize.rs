//! `initialize`: the one request that makes a session.

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use tower_service::Service;

use super::session::null_id;
use crate::body::InnerResponseBody;
use crate::context::{now_ms, McpContext, SessionId, SessionRecord};
use crate::inner::{self};
use crate::layer::Config;
use crate::post_stream::StreamControl;
use crate::protocol::headers::MCP_SESSION_ID;
use crate::protocol::jsonrpc::{code, Answer, Incoming, Kind};
use crate::protocol::rejection::Rejection;
use crate::protocol::version::Era;
use crate::service::{or_reject, InnerBody, Reply};

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
    parts: http::request::Parts,
    bytes: Bytes,
    incoming: Incoming,
) -> Result<Reply<B>, S::Error>
where
    S: Service<Request<InnerBody>, Response = Response<B>>,
    B: InnerResponseBody,
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
    let principal = config.principal_of(&parts);
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
    let response = inner::call(
        inner,
        parts,
        bytes,
        context.clone(),
        &config.notifier,
        Some(StreamControl::default()),
    )
    .await?;
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
