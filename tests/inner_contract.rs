//! The inner-service contract, checked with a hand-written inner service that keeps state of
//! its own the way an MCP framework with its own transport does: what reaches it (no layer
//! session id; the session's facts in `McpContext`; answers to the server-to-client requests it
//! sent itself) and what the layer keeps (GET, DELETE, answers a `Notifier` waits for).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::sse::SseReader;
use common::{delete_request, get_request, initialize_body, post_request, tool_call, LATEST};
use futures_util::StreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use mcp_edge_session::{McpContext, Notifier, SessionLayer};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tower::{Layer, ServiceExt};

/// What the inner service saw, request by request.
#[derive(Clone, Default)]
struct Seen {
    requests: Arc<Mutex<Vec<SeenRequest>>>,
    /// Server-to-client requests the inner service sent, by id, waiting for the client.
    pending: Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>,
    /// The notifier of the last request, for a server-to-client request through the layer.
    notifier: Arc<Mutex<Option<(Notifier, McpContext)>>>,
}

#[derive(Clone, Debug)]
struct SeenRequest {
    method: http::Method,
    session_header: Option<String>,
    context_session: Option<String>,
    body: Value,
}

impl Seen {
    fn bodies(&self) -> Vec<Value> {
        let requests = self.requests.lock().unwrap();
        requests.iter().map(|r| r.body.clone()).collect()
    }
}

type Body = http_body_util::Either<Full<Bytes>, common::StreamingBody>;

fn json_response(status: StatusCode, body: Option<Value>) -> Response<Body> {
    let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(http_body_util::Either::Left(Full::new(bytes)))
        .unwrap()
}

fn sse_event(message: &Value) -> Result<http_body::Frame<Bytes>, std::convert::Infallible> {
    Ok(http_body::Frame::data(Bytes::from(format!(
        "event: message\ndata: {message}\n\n"
    ))))
}

/// An inner MCP server with its own pending-request map: `ask` sends `sampling/createMessage`
/// on its POST stream under an id of its own and answers with what the client said. It also
/// mints its own session id, as a sessionful framework does.
fn framework(
    seen: Seen,
) -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Body>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
       + Send {
    tower::service_fn(move |request: Request<Full<Bytes>>| {
        let seen = seen.clone();
        async move {
            let (parts, body) = request.into_parts();
            let bytes = body.collect().await.unwrap().to_bytes();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let context = parts.extensions.get::<McpContext>().cloned();
            seen.requests.lock().unwrap().push(SeenRequest {
                method: parts.method.clone(),
                session_header: parts
                    .headers
                    .get("mcp-session-id")
                    .map(|v| v.to_str().unwrap().to_owned()),
                context_session: context
                    .as_ref()
                    .and_then(|c| c.session_id.as_ref())
                    .map(|id| id.to_string()),
                body: body.clone(),
            });
            if let (Some(notifier), Some(context)) =
                (parts.extensions.get::<Notifier>(), context.clone())
            {
                *seen.notifier.lock().unwrap() = Some((notifier.clone(), context));
            }
            // Answers the client POSTs back: to the requests this server sent itself.
            let responses: Vec<&Value> = match &body {
                Value::Array(items) => items.iter().collect(),
                one => vec![one],
            };
            let mut only_responses = true;
            for message in responses {
                if message.get("method").is_some() {
                    only_responses = false;
                    continue;
                }
                let id = message["id"].as_str().unwrap_or_default().to_owned();
                if let Some(waiter) = seen.pending.lock().unwrap().remove(&id) {
                    let _ = waiter.send(message.clone());
                }
            }
            if only_responses || body["id"].is_null() {
                return Ok(json_response(StatusCode::ACCEPTED, None));
            }
            let id = body["id"].clone();
            match body["method"].as_str() {
                Some("initialize") => {
                    let mut result = common::initialize_result();
                    result["protocolVersion"] = body["params"]["protocolVersion"].clone();
                    let mut response = json_response(
                        StatusCode::OK,
                        Some(json!({ "jsonrpc": "2.0", "id": id, "result": result })),
                    );
                    response
                        .headers_mut()
                        .insert("mcp-session-id", "framework-own-id".parse().unwrap());
                    Ok(response)
                }
                Some("tools/call") => {
                    let (answer_tx, answer_rx) = oneshot::channel();
                    let own_id = format!("framework-{}", id);
                    seen.pending
                        .lock()
                        .unwrap()
                        .insert(own_id.clone(), answer_tx);
                    let ask = json!({
                        "jsonrpc": "2.0", "id": own_id, "method": "sampling/createMessage",
                        "params": { "messages": [], "maxTokens": 1 },
                    });
                    let result = async move {
                        let answer = answer_rx.await.unwrap_or(Value::Null);
                        sse_event(&json!({
                            "jsonrpc": "2.0", "id": id,
                            "result": { "content": [{ "type": "text", "text": answer["result"]["content"]["text"] }] },
                        }))
                    };
                    let events = futures_util::stream::iter([sse_event(&ask)])
                        .chain(futures_util::stream::once(result))
                        .boxed();
                    Ok(Response::builder()
                        .header("content-type", "text/event-stream")
                        .body(http_body_util::Either::Right(
                            http_body_util::StreamBody::new(events),
                        ))
                        .unwrap())
                }
                _ => Ok(json_response(
                    StatusCode::OK,
                    Some(json!({ "jsonrpc": "2.0", "id": id, "result": {} })),
                )),
            }
        }
    })
}

fn layered(
    seen: &Seen,
) -> mcp_edge_session::SessionService<
    impl tower::Service<
            Request<Full<Bytes>>,
            Response = Response<Body>,
            Error = std::convert::Infallible,
            Future = impl Send,
        > + Clone
        + Send,
> {
    SessionLayer::memory()
        .with_executor(|task| {
            tokio::spawn(task);
        })
        .layer(framework(seen.clone()))
}

async fn start_session<S>(service: &S) -> String
where
    S: tower::Service<
            Request<Full<Bytes>>,
            Response = Response<mcp_edge_session::SessionBody<Body>>,
        > + Clone,
    S::Error: std::fmt::Debug,
{
    let response = service
        .clone()
        .oneshot(post_request(None, initialize_body(LATEST)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(
        id, "framework-own-id",
        "the layer's session id, not the inner one's"
    );
    id
}

#[tokio::test]
async fn the_inner_service_never_sees_the_layer_session_id_and_gets_the_context() {
    let seen = Seen::default();
    let service = layered(&seen);
    let id = start_session(&service).await;
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let response = service
        .clone()
        .oneshot(post_request(Some(&id), initialized))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let response = service
        .clone()
        .oneshot(post_request(Some(&id), list))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let requests = seen.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 3, "{requests:?}");
    for request in &requests {
        assert_eq!(request.session_header, None, "{request:?}");
    }
    for request in &requests {
        assert_eq!(
            request.context_session.as_deref(),
            Some(id.as_str()),
            "{request:?}"
        );
    }
}

#[tokio::test]
async fn get_and_delete_are_the_layer_s() {
    let seen = Seen::default();
    let service = layered(&seen);
    let id = start_session(&service).await;
    let stream = service
        .clone()
        .oneshot(get_request(&id, None))
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    drop(stream);
    let response = service.clone().oneshot(delete_request(&id)).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let methods: Vec<http::Method> = seen
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(
        methods,
        [http::Method::POST],
        "only initialize reached the inner service"
    );
}

#[tokio::test]
async fn answers_to_the_inner_service_s_own_requests_reach_it() {
    let seen = Seen::default();
    let service = layered(&seen);
    let id = start_session(&service).await;
    let response = service
        .clone()
        .oneshot(post_request(Some(&id), tool_call(7, "ask", json!({}))))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = SseReader::new(response);
    let (_, ask) = stream.next_message().await.expect("the inner request");
    assert_eq!(ask["method"], "sampling/createMessage");
    assert_eq!(
        ask["id"], "framework-7",
        "the inner service's own id, unchanged"
    );

    let answer = json!({
        "jsonrpc": "2.0", "id": ask["id"],
        "result": { "role": "assistant", "model": "m", "content": { "type": "text", "text": "from the client" } },
    });
    let posted = service
        .clone()
        .oneshot(post_request(Some(&id), answer.clone()))
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::ACCEPTED);
    assert!(posted
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .is_empty());

    let (_, result) = tokio::time::timeout(Duration::from_secs(5), stream.next_message())
        .await
        .expect("the tool finishes once its answer arrived")
        .expect("the tool's result");
    assert_eq!(result["id"], 7);
    assert_eq!(result["result"]["content"][0]["text"], "from the client");
    assert!(
        seen.bodies().contains(&answer),
        "the inner service got the answer as sent"
    );
}

#[tokio::test]
async fn answers_a_layer_waiter_expects_stay_with_the_layer() {
    let seen = Seen::default();
    let service = layered(&seen);
    let id = start_session(&service).await;
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    service
        .clone()
        .oneshot(post_request(Some(&id), list))
        .await
        .unwrap();
    let (notifier, context) = seen
        .notifier
        .lock()
        .unwrap()
        .clone()
        .expect("a request's notifier");
    let session = context.session_id.expect("a session");
    let outgoing = notifier
        .prepare_request(&session, "roots/list", json!({}))
        .await
        .unwrap();
    let before = seen.requests.lock().unwrap().len();

    let answer =
        json!({ "jsonrpc": "2.0", "id": outgoing.message["id"], "result": { "roots": [] } });
    let posted = service
        .clone()
        .oneshot(post_request(Some(&id), answer))
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::ACCEPTED);
    let result = tokio::time::timeout(Duration::from_secs(5), outgoing.response)
        .await
        .expect("the waiter is answered")
        .unwrap();
    assert_eq!(result, json!({ "roots": [] }));
    assert_eq!(
        seen.requests.lock().unwrap().len(),
        before,
        "the inner service saw nothing"
    );
}

#[tokio::test]
async fn a_batch_keeps_only_what_no_layer_waiter_took() {
    let seen = Seen::default();
    let service = layered(&seen);
    let response = service
        .clone()
        .oneshot(post_request(None, initialize_body("2025-03-26")))
        .await
        .unwrap();
    let id = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    service
        .clone()
        .oneshot(post_2025_03_26(&id, list))
        .await
        .unwrap();
    let (notifier, context) = seen.notifier.lock().unwrap().clone().unwrap();
    let outgoing = notifier
        .prepare_request(&context.session_id.unwrap(), "roots/list", json!({}))
        .await
        .unwrap();

    let for_layer =
        json!({ "jsonrpc": "2.0", "id": outgoing.message["id"], "result": { "roots": [] } });
    let for_inner = json!({ "jsonrpc": "2.0", "id": "framework-9", "result": {} });
    let batch = json!([for_layer, for_inner]);
    let posted = service
        .clone()
        .oneshot(post_2025_03_26(&id, batch))
        .await
        .unwrap();
    let status = posted.status();
    let body = posted.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, StatusCode::ACCEPTED, "{body:?}");
    assert!(outgoing.response.await.is_ok());
    assert_eq!(seen.bodies().last(), Some(&json!([for_inner])));
}

fn post_2025_03_26(session: &str, body: Value) -> Request<Full<Bytes>> {
    let mut request = post_request(Some(session), body);
    request
        .headers_mut()
        .insert("mcp-protocol-version", "2025-03-26".parse().unwrap());
    request
}
