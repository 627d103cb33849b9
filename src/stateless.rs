//! The stateless era (2026-07-28): every request carries its own context in `_meta`; the
//! layer validates the mirrored headers, hands the context to the inner service, and serves
//! `subscriptions/listen` from the hub. No store is touched.

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use http::{Request, Response, StatusCode};
use http_body::Body;
use serde::Deserialize;
use serde_json::{Map, Value};
use tower_service::Service;

use crate::body::{BoxError, SessionBody};
use crate::context::McpContext;
use crate::hub::ListenFilter;
use crate::inner;
use crate::layer::Config;
use crate::legacy::sse_response;
use crate::protocol::jsonrpc::{code, notification, Envelope, Incoming, Kind};
use crate::protocol::meta::{stateless_context, META_SUBSCRIPTION_ID};
use crate::protocol::rejection::Rejection;
use crate::service::{or_reject, InnerBody, Reply};
use crate::sse::{self, KeepAlive};

/// Methods of the sessionful era that 2026-07-28 removed: a stateless request for one gets
/// 404 with -32601, whatever the inner service would say.
const REMOVED_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// A stateless POST.
pub(crate) async fn post<S, B>(
    config: &Config,
    inner: S,
    parts: http::request::Parts,
    bytes: Bytes,
    incoming: Incoming,
) -> Result<Reply<B>, S::Error>
where
    S: Service<Request<InnerBody>, Response = Response<B>>,
    B: Body,
{
    let Some(message) = incoming.single() else {
        return Ok(Rejection::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "Invalid Request: the body must be a single JSON-RPC message",
        )
        .into_response());
    };
    if message.kind == Kind::Response {
        return Ok(Rejection::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "Invalid Request: clients send no responses in protocol version 2026-07-28",
        )
        .into_response());
    }
    if let Some(method) = message
        .method
        .as_deref()
        .filter(|m| REMOVED_METHODS.contains(m))
    {
        return Ok(Rejection::new(
            StatusCode::NOT_FOUND,
            code::METHOD_NOT_FOUND,
            format!("Method not found: {method} does not exist in protocol version 2026-07-28"),
        )
        .with_id(message.id.as_deref())
        .into_response());
    }
    let mut context = or_reject!(stateless_context(&parts.headers, message));
    context.principal = config.principal_of(&parts);
    if message.method.as_deref() == Some("subscriptions/listen") {
        return Ok(listen(config, message, context).await);
    }
    // Closing the response stream cancels the request, which is what dropping the inner
    // body does.
    let response = inner::call(inner, parts, bytes, context, &config.notifier, None).await?;
    Ok(response.map(SessionBody::inner))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListenParams {
    #[serde(default)]
    notifications: Filter,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    tools_list_changed: bool,
    #[serde(default)]
    prompts_list_changed: bool,
    #[serde(default)]
    resources_list_changed: bool,
    #[serde(default)]
    resource_subscriptions: Vec<String>,
}

/// `subscriptions/listen`: an SSE stream that opens with the acknowledgement and then carries
/// only the notifications the client opted into, each tagged with the subscription id (the
/// listen request's own id).
async fn listen<B>(config: &Config, message: &Envelope, _context: McpContext) -> Reply<B> {
    let id = message.id.as_deref();
    let Ok(Some(params)) = message.params_as::<Option<ListenParams>>() else {
        return Rejection::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_PARAMS,
            "Invalid params: notifications must be a subscription filter",
        )
        .with_id(id)
        .into_response();
    };
    let filter = ListenFilter {
        tools_list_changed: params.notifications.tools_list_changed,
        prompts_list_changed: params.notifications.prompts_list_changed,
        resources_list_changed: params.notifications.resources_list_changed,
        resource_uris: params
            .notifications
            .resource_subscriptions
            .into_iter()
            .collect(),
    };
    let subscription_id: Value = id
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .unwrap_or(Value::Null);
    let acknowledgement = acknowledgement(&filter, &subscription_id);
    let messages = match config.hub.listen(filter).await {
        Ok(messages) => messages,
        Err(error) => return Rejection::unavailable(&error).with_id(id).into_response(),
    };
    let tagged = messages.map(move |message| {
        Ok::<_, BoxError>(sse::event(None, None, &tag(&message, &subscription_id)))
    });
    let events = stream::iter([Ok(sse::event(None, None, &acknowledgement))]).chain(tagged);
    sse_response(SessionBody::stream(KeepAlive::new(
        events,
        config.keep_alive,
    )))
}

fn meta_with_subscription(subscription_id: &Value) -> Value {
    let mut meta = Map::new();
    meta.insert(META_SUBSCRIPTION_ID.to_owned(), subscription_id.clone());
    Value::Object(meta)
}

/// `notifications/subscriptions/acknowledged`, echoing the filter the server honours.
fn acknowledgement(filter: &ListenFilter, subscription_id: &Value) -> String {
    let mut honoured = Map::new();
    for (key, on) in [
        ("toolsListChanged", filter.tools_list_changed),
        ("promptsListChanged", filter.prompts_list_changed),
        ("resourcesListChanged", filter.resources_list_changed),
    ] {
        if on {
            honoured.insert(key.to_owned(), Value::Bool(true));
        }
    }
    if !filter.resource_uris.is_empty() {
        honoured.insert(
            "resourceSubscriptions".to_owned(),
            filter.resource_uris.iter().cloned().collect(),
        );
    }
    notification(
        "notifications/subscriptions/acknowledged",
        serde_json::json!({
            "_meta": meta_with_subscription(subscription_id),
            "notifications": honoured,
        }),
    )
    .to_string()
}

/// Adds `_meta.io.modelcontextprotocol/subscriptionId` to a notification's params.
fn tag(message: &str, subscription_id: &Value) -> String {
    let Ok(mut value) = serde_json::from_str::<Value>(message) else {
        return message.to_owned();
    };
    if let Some(object) = value.as_object_mut() {
        let params = object
            .entry("params")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(params) = params.as_object_mut() {
            let meta = params
                .entry("_meta")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(meta) = meta.as_object_mut() {
                meta.insert(META_SUBSCRIPTION_ID.to_owned(), subscription_id.clone());
            }
        }
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_notifications() {
        let tagged = tag(
            r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"test://x"}}"#,
            &Value::from(7),
        );
        let value: Value = serde_json::from_str(&tagged).unwrap();
        assert_eq!(value["params"]["_meta"][META_SUBSCRIPTION_ID], 7);
        assert_eq!(value["params"]["uri"], "test://x");
    }
}
