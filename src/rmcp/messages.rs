//! Reading and writing rmcp's messages at the edges of one request.

use http::StatusCode;
use rmcp::model::{
    ClientCapabilities, ClientJsonRpcMessage, ErrorCode, ErrorData, Implementation,
    InitializeRequestParams, JsonRpcError, ProtocolVersion, RequestId, ServerJsonRpcMessage,
    ServerNotification,
};
use serde_json::Value;

pub(crate) use crate::answer::LogFilter;
use crate::context::McpContext;
use crate::notify::ClientRequestError;
use crate::protocol::version::Era;

/// Which of rmcp's messages the client gets: `notifications/message` only at a level the
/// [`LogFilter`] admits.
pub(crate) trait AdmitsMessage {
    fn admits(self, message: &ServerJsonRpcMessage) -> bool;
}

impl AdmitsMessage for LogFilter {
    /// Whether `message` may go to the client.
    // Logging is deprecated from 2026-07-28 on (SEP-2577); the sessionful era still has it.
    #[allow(deprecated)]
    fn admits(self, message: &ServerJsonRpcMessage) -> bool {
        let ServerJsonRpcMessage::Notification(notification) = message else {
            return true;
        };
        let ServerNotification::LoggingMessageNotification(logging) = &notification.notification
        else {
            return true;
        };
        self.admits_level(&logging.params.level)
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

/// The HTTP status of `message`, should it be the whole response.
pub(crate) fn status_of(message: &ServerJsonRpcMessage, era: Era) -> StatusCode {
    let code = match message {
        ServerJsonRpcMessage::Error(error) => Some(i64::from(error.error.code.0)),
        _ => None,
    };
    crate::answer::answer_status(code, era)
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
