//! Reading and writing rmcp's messages at the edges of one request.

use http::StatusCode;
use rmcp::model::{
    ClientCapabilities, ClientJsonRpcMessage, ErrorCode, ErrorData, Implementation,
    InitializeRequestParams, JsonRpcError, ProtocolVersion, RequestId, ServerJsonRpcMessage,
    ServerNotification,
};
use serde_json::Value;

use crate::context::{LogLevel, McpContext};
use crate::notify::ClientRequestError;
use crate::protocol::version::Era;

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

    /// Whether `message` may go to the client.
    // Logging is deprecated from 2026-07-28 on (SEP-2577); the sessionful era still has it.
    #[allow(deprecated)]
    pub(crate) fn admits(self, message: &ServerJsonRpcMessage) -> bool {
        let ServerJsonRpcMessage::Notification(notification) = message else {
            return true;
        };
        let ServerNotification::LoggingMessageNotification(logging) = &notification.notification
        else {
            return true;
        };
        match self {
            Self::All => true,
            Self::Nothing => false,
            Self::AtLeast(minimum) => serde_json::to_value(logging.params.level)
                .and_then(serde_json::from_value::<LogLevel>)
                .is_ok_and(|level| minimum.admits(level)),
        }
    }
}

/// Whether a message ends a request: its response or error.
pub(crate) fn answered_request(message: &ServerJsonRpcMessage) -> Option<&RequestId> {
    match message {
        ServerJsonRpcMessage::Response(response) => Some(&response.id),
        ServerJsonRpcMessage::Error(error) => error.id.as_ref(),
        _ => None,
    }
}

/// The HTTP status of a JSON answer. Legacy errors travel with 200; the stateless era maps
/// some errors to statuses, as rmcp's own HTTP service does.
pub(crate) fn status_of(message: &ServerJsonRpcMessage, era: Era) -> StatusCode {
    let ServerJsonRpcMessage::Error(error) = message else {
        return StatusCode::OK;
    };
    if era == Era::Legacy {
        return StatusCode::OK;
    }
    match error.error.code {
        ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
        | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
        | ErrorCode::HEADER_MISMATCH => StatusCode::BAD_REQUEST,
        ErrorCode::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

/// The client's answer to a server-to-client request, as rmcp's serve loop expects it back:
/// under the id rmcp gave the request.
pub(crate) fn client_answer(
    id: RequestId,
    answer: Result<Value, ClientRequestError>,
) -> ClientJsonRpcMessage {
    let error = match answer {
        Ok(result) => {
            let message = serde_json::json!({ "jsonrpc": "2.0", "id": id, "result": result });
            match serde_json::from_value(message) {
                Ok(message) => return message,
                Err(error) => ErrorData::invalid_params(
                    format!("the client's answer is not a valid result: {error}"),
                    None,
                ),
            }
        }
        Err(ClientRequestError::Rejected { code, message }) => ErrorData::new(
            ErrorCode(i32::try_from(code).unwrap_or(ErrorCode::INTERNAL_ERROR.0)),
            message,
            None,
        ),
        Err(error) => ErrorData::internal_error(error.to_string(), None),
    };
    ClientJsonRpcMessage::Error(JsonRpcError::new(Some(id), error))
}

/// An error rmcp gets back for a server-to-client request that cannot be sent.
pub(crate) fn refused(id: RequestId, why: &str) -> ClientJsonRpcMessage {
    ClientJsonRpcMessage::Error(JsonRpcError::new(
        Some(id),
        ErrorData::invalid_request(why.to_owned(), None),
    ))
}

/// Who the handler is talking to, as `initialize` described it (rmcp's `peer_info`): from the
/// request itself for `initialize`, from the layer's context otherwise.
pub(crate) fn peer_info(
    messages: &[ClientJsonRpcMessage],
    context: Option<&McpContext>,
    header_version: Option<&str>,
) -> InitializeRequestParams {
    use rmcp::model::ClientRequest;
    for message in messages {
        if let ClientJsonRpcMessage::Request(request) = message {
            if let ClientRequest::InitializeRequest(initialize) = &request.request {
                return initialize.params.clone();
            }
        }
    }
    let version = context
        .map(|c| c.protocol_version.as_str())
        .or(header_version)
        .unwrap_or("2025-03-26");
    let protocol_version: ProtocolVersion =
        serde_json::from_value(Value::from(version)).unwrap_or(ProtocolVersion::V_2025_03_26);
    // A stateless request carries its client in `_meta`, where rmcp looks first.
    let legacy = context.filter(|c| c.era == Era::Legacy);
    let capabilities: ClientCapabilities = legacy
        .and_then(|c| serde_json::from_value(c.client_capabilities.clone()).ok())
        .unwrap_or_default();
    let client_info: Implementation = legacy
        .and_then(|c| c.client_info.clone())
        .and_then(|info| serde_json::from_value(info).ok())
        .unwrap_or_default();
    InitializeRequestParams::new(capabilities, client_info).with_protocol_version(protocol_version)
}
