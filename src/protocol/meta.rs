//! The stateless era's per-request context: `_meta` fields and the headers that must mirror
//! the body (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`).

use base64::Engine as _;
use http::{HeaderMap, HeaderName, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::headers::{MCP_METHOD, MCP_NAME, MCP_PROTOCOL_VERSION};
use super::jsonrpc::{code, Envelope, Kind};
use super::rejection::Rejection;
use super::version::{era_of, Era, LEGACY_VERSIONS, STATELESS_VERSIONS};
use crate::context::{LogLevel, McpContext};

/// `_meta` key of the protocol version.
pub(crate) const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key of the client capabilities.
pub(crate) const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key of the client implementation.
pub(crate) const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
/// `_meta` key of the log level.
pub(crate) const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
/// `_meta` key tagging notifications of a `subscriptions/listen` stream.
pub(crate) const META_SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// The fields of `params` the layer reads.
#[derive(Deserialize, Default)]
struct Params {
    #[serde(default, rename = "_meta")]
    meta: Option<Map<String, Value>>,
    #[serde(default)]
    name: Option<Value>,
    #[serde(default)]
    uri: Option<Value>,
    #[serde(default, rename = "taskId")]
    task_id: Option<Value>,
}

/// The protocol version a message declares in `_meta`, if any.
pub(crate) fn declared_version(message: &Envelope) -> Option<String> {
    let params: Params = message.params_as::<Option<Params>>().ok()??;
    params
        .meta?
        .get(META_PROTOCOL_VERSION)?
        .as_str()
        .map(str::to_owned)
}

fn mismatch(message: String) -> Rejection {
    Rejection::new(StatusCode::BAD_REQUEST, code::HEADER_MISMATCH, message)
}

fn invalid_params(message: &'static str) -> Rejection {
    Rejection::new(StatusCode::BAD_REQUEST, code::INVALID_PARAMS, message)
}

/// A header value with optional whitespace trimmed and `=?base64?…?=` decoded.
fn header_text(headers: &HeaderMap, name: &HeaderName) -> Result<Option<String>, Rejection> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| mismatch(format!("Header mismatch: {name} has invalid characters")))?
        .trim();
    match text
        .strip_prefix("=?base64?")
        .and_then(|t| t.strip_suffix("?="))
    {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(Some)
            .ok_or_else(|| mismatch(format!("Header mismatch: {name} is not valid base64"))),
        None => Ok(Some(text.to_owned())),
    }
}

/// `Mcp-Param-*` headers (SEP-2243) of a `tools/call` against its `arguments`: every
/// property of the tool's input schema annotated `x-mcp-header: "X"` (reached through
/// `properties` alone) is mirrored as `Mcp-Param-X` when the argument is present and a
/// primitive, and only then. Only an inner service knows its tools' schemas, so the layer
/// leaves this to the inner service; `RmcpService` and `TowerMcpService` check it.
#[cfg(any(feature = "rmcp", feature = "tower-mcp"))]
pub(crate) fn check_param_headers(
    headers: &HeaderMap,
    arguments: Option<&Value>,
    input_schema: &Map<String, Value>,
) -> Result<(), Rejection> {
    let mut annotated = Vec::new();
    collect_header_annotations(
        input_schema.get("properties"),
        &mut Vec::new(),
        &mut annotated,
    );
    for (path, header) in annotated {
        let name =
            HeaderName::from_bytes(format!("mcp-param-{header}").as_bytes()).map_err(|_| {
                mismatch(format!(
                    "Header mismatch: x-mcp-header '{header}' is no header name"
                ))
            })?;
        if headers.get_all(&name).iter().count() > 1 {
            return Err(mismatch(format!(
                "Header mismatch: {name} given more than once"
            )));
        }
        let sent = header_text(headers, &name)?;
        let argument = arguments
            .and_then(|arguments| path.iter().try_fold(arguments, |value, key| value.get(key)))
            .and_then(|value| match value {
                Value::String(text) => Some(text.clone()),
                Value::Bool(_) | Value::Number(_) => Some(value.to_string()),
                _ => None,
            });
        match (sent, argument) {
            (None, None) => {}
            (Some(sent), argument) if Some(&sent) == argument.as_ref() => {}
            (Some(sent), argument) => {
                return Err(mismatch(format!(
                    "Header mismatch: {name} header value '{sent}' does not match argument '{}'",
                    argument.unwrap_or_default()
                )))
            }
            (None, Some(_)) => {
                return Err(mismatch(format!(
                    "Header mismatch: {name} header is required"
                )))
            }
        }
    }
    Ok(())
}

/// The `x-mcp-header` annotations of a schema's properties, with the property path to each.
#[cfg(any(feature = "rmcp", feature = "tower-mcp"))]
fn collect_header_annotations<'a>(
    properties: Option<&'a Value>,
    path: &mut Vec<&'a str>,
    found: &mut Vec<(Vec<&'a str>, &'a str)>,
) {
    let Some(Value::Object(properties)) = properties else {
        return;
    };
    for (name, schema) in properties {
        path.push(name);
        if let Some(header) = schema.get("x-mcp-header").and_then(Value::as_str) {
            found.push((path.clone(), header));
        }
        collect_header_annotations(schema.get("properties"), path, found);
        path.pop();
    }
}

/// What `Mcp-Name` mirrors for a method.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum NameField {
    /// The spec defines this field as the method's name; the header must carry it.
    Required(&'static str),
    /// An extension defines this field; when the header is sent it must match (whether it is
    /// required, and whether the extension exists at all, is the inner server's to answer).
    IfSent(&'static str),
    /// A method of the spec that names nothing: no header.
    Nothing,
    /// A method the layer does not know (an extension's, or none): the inner server decides.
    Unknown,
}

/// Methods of 2026-07-28 itself that name nothing.
const NAMELESS_METHODS: &[&str] = &[
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "completion/complete",
    "subscriptions/listen",
    "server/discover",
];

fn name_field(method: &str) -> NameField {
    match method {
        "tools/call" | "prompts/get" => NameField::Required("name"),
        "resources/read" => NameField::Required("uri"),
        // The tasks extension (io.modelcontextprotocol/tasks) names the task.
        "tasks/get" | "tasks/update" | "tasks/cancel" => NameField::IfSent("taskId"),
        _ if NAMELESS_METHODS.contains(&method) => NameField::Nothing,
        _ => NameField::Unknown,
    }
}

/// The 400 for a version this layer does not serve, listing the versions it does.
pub(crate) fn unsupported_version(
    requested: &str,
    id: Option<&serde_json::value::RawValue>,
) -> Rejection {
    let supported: Vec<&str> = STATELESS_VERSIONS
        .iter()
        .chain(LEGACY_VERSIONS.iter().rev())
        .copied()
        .collect();
    Rejection::new(
        StatusCode::BAD_REQUEST,
        code::UNSUPPORTED_VERSION,
        "Unsupported protocol version",
    )
    .with_id(id)
    .with_data(serde_json::json!({ "supported": supported, "requested": requested }))
}

/// Validates a stateless message's headers against its body and builds its context.
pub(crate) fn stateless_context(
    headers: &HeaderMap,
    message: &Envelope,
) -> Result<McpContext, Rejection> {
    let id = message.id.as_deref();
    let method = message.method.as_deref().unwrap_or_default();
    let params: Params = message
        .params_as::<Option<Params>>()
        .map_err(|_| invalid_params("params must be an object").with_id(id))?
        .unwrap_or_default();
    let meta = params.meta.unwrap_or_default();

    let header_version = header_text(headers, &MCP_PROTOCOL_VERSION).map_err(|r| r.with_id(id))?;
    let body_version = meta.get(META_PROTOCOL_VERSION).and_then(Value::as_str);
    let version = match (header_version.as_deref(), body_version) {
        (None, _) => {
            return Err(mismatch("Header mismatch: MCP-Protocol-Version header is required".into()).with_id(id))
        }
        (Some(header), Some(body)) if header != body => {
            return Err(mismatch(format!(
                "Header mismatch: MCP-Protocol-Version header value '{header}' does not match body value '{body}'"
            ))
            .with_id(id))
        }
        (Some(_), None) if message.kind == Kind::Request => {
            return Err(invalid_params("_meta.io.modelcontextprotocol/protocolVersion is required").with_id(id))
        }
        (Some(header), _) => header.to_owned(),
    };
    if era_of(&version) != Some(Era::Stateless) {
        return Err(unsupported_version(&version, id));
    }

    let header_method = header_text(headers, &MCP_METHOD).map_err(|r| r.with_id(id))?;
    match header_method.as_deref() {
        None if message.kind == Kind::Request => {
            return Err(mismatch("Header mismatch: Mcp-Method header is required".into()).with_id(id))
        }
        Some(header) if header != method => {
            return Err(mismatch(format!(
                "Header mismatch: Mcp-Method header value '{header}' does not match body value '{method}'"
            ))
            .with_id(id))
        }
        _ => {}
    }

    let header_name = header_text(headers, &MCP_NAME).map_err(|r| r.with_id(id))?;
    let field = name_field(method);
    let body_name = match field {
        NameField::Required(name) | NameField::IfSent(name) => match name {
            "uri" => params.uri.as_ref(),
            "taskId" => params.task_id.as_ref(),
            _ => params.name.as_ref(),
        },
        NameField::Nothing | NameField::Unknown => None,
    }
    .and_then(Value::as_str);
    match (field, header_name.as_deref()) {
        (NameField::Required(_), None) => {
            return Err(mismatch("Header mismatch: Mcp-Name header is required".into()).with_id(id))
        }
        (NameField::Required(_) | NameField::IfSent(_), Some(header))
            if Some(header) != body_name =>
        {
            return Err(mismatch(format!(
                "Header mismatch: Mcp-Name header value '{header}' does not match body value '{}'",
                body_name.unwrap_or_default()
            ))
            .with_id(id))
        }
        (NameField::Nothing, Some(header)) => {
            return Err(mismatch(format!(
            "Header mismatch: Mcp-Name header '{header}' given for {method}, which names nothing"
        ))
            .with_id(id))
        }
        _ => {}
    }

    let client_capabilities = match meta.get(META_CLIENT_CAPABILITIES) {
        Some(caps @ Value::Object(_)) => caps.clone(),
        None if message.kind == Kind::Notification => Value::Object(Map::new()),
        _ => {
            return Err(invalid_params(
                "_meta.io.modelcontextprotocol/clientCapabilities must be an object",
            )
            .with_id(id))
        }
    };
    let log_level = match meta.get(META_LOG_LEVEL) {
        None => None,
        Some(level) => Some(
            serde_json::from_value::<LogLevel>(level.clone()).map_err(|_| {
                invalid_params("_meta.io.modelcontextprotocol/logLevel is not a log level")
                    .with_id(id)
            })?,
        ),
    };

    Ok(McpContext {
        era: Era::Stateless,
        session_id: None,
        protocol_version: version,
        client_info: meta.get(META_CLIENT_INFO).cloned(),
        client_capabilities,
        log_level,
        principal: None,
    })
}
