//! [`DurableObjectHub`]: the [`StreamHub`] of a Worker, backed by sharded [`McpSessionHub`]
//! Durable Objects.
//!
//! [`McpSessionHub`]: super::McpSessionHub

use std::fmt;

use async_trait::async_trait;
use futures_util::future::join_all;
use futures_util::{FutureExt, StreamExt};
use worker::send::{SendFuture, SendWrapper};
use worker::{Headers, Method, ObjectNamespace, Request, RequestInit, Stub};

use super::socket::SocketMessages;
use super::wire::{self, Call, Frame, Reply, WireAudience, WireFilter};
use crate::context::SessionId;
use crate::hub::{
    Audience, Event, EventId, HubError, ListenFilter, Message, MessageStream, PendingResponse,
    SessionStream, StreamHub,
};

/// A hub over `shards` named instances of the hub Durable Object. A session's streams, log
/// and subscriptions live on one shard; broadcasts go to every shard.
pub struct DurableObjectHub {
    namespace: SendWrapper<ObjectNamespace>,
    shards: u32,
}

impl DurableObjectHub {
    /// A hub over the Durable Object `namespace`, spread over `shards` instances.
    pub fn new(namespace: ObjectNamespace, shards: u32) -> Self {
        Self {
            namespace: SendWrapper::new(namespace),
            shards: shards.max(1),
        }
    }

    /// The shard a session lives on.
    pub fn shard_of_session(&self, session: &SessionId) -> u32 {
        wire::shard_of(session.as_str(), self.shards)
    }

    /// What a shard reports about itself: its instance id (new after every eviction), when
    /// that instance was constructed, and how many WebSockets it holds.
    pub async fn shard_status(&self, shard: u32) -> Result<serde_json::Value, HubError> {
        let stub = self.shard(shard)?;
        SendFuture::new(async move {
            let url = format!("{}{}", wire::ORIGIN, wire::INSTANCE_PATH);
            stub.fetch_with_str(&url)
                .await?
                .json::<serde_json::Value>()
                .await
        })
        .await
        .map_err(unavailable)
    }

    /// Runs a shard's storage sweep now (its alarm runs it every few minutes anyway), and
    /// returns what it reports.
    pub async fn sweep_shard(&self, shard: u32) -> Result<String, HubError> {
        let stub = self.shard(shard)?;
        SendFuture::new(async move {
            let url = format!("{}{}", wire::ORIGIN, wire::SWEEP_PATH);
            stub.fetch_with_str(&url).await?.text().await
        })
        .await
        .map_err(unavailable)
    }

    fn shard(&self, shard: u32) -> Result<Stub, HubError> {
        self.namespace
            .get_by_name(&wire::shard_name(shard))
            .map_err(unavailable)
    }

    fn shard_of(&self, session: &SessionId) -> Result<Stub, HubError> {
        self.shard(self.shard_of_session(session))
    }

    async fn call_on(&self, stub: Stub, call: &Call) -> Result<Reply, HubError> {
        let body = serde_json::to_string(call).map_err(|e| HubError::unavailable(e.to_string()))?;
        super::stats::hub_request();
        SendFuture::new(async move {
            let mut init = RequestInit::new();
            init.with_method(Method::Post).with_body(Some(body.into()));
            let request =
                Request::new_with_init(&format!("{}{}", wire::ORIGIN, wire::RPC_PATH), &init)?;
            let mut response = stub.fetch_with_request(request).await?;
            if response.status_code() != 200 {
                let text = response.text().await.unwrap_or_default();
                return Err(worker::Error::RustError(format!(
                    "hub answered {}: {text}",
                    response.status_code()
                )));
            }
            response.json::<Reply>().await
        })
        .await
        .map_err(unavailable)
    }

    /// Opens a WebSocket to a shard's stream endpoint with the given query.
    async fn connect(&self, stub: Stub, query: String) -> Result<SocketMessages, HubError> {
        super::stats::hub_request();
        SendFuture::new(async move {
            let headers = Headers::new();
            headers.set("upgrade", "websocket")?;
            let mut init = RequestInit::new();
            init.with_method(Method::Get).with_headers(headers);
            let url = format!("{}{}?{query}", wire::ORIGIN, wire::STREAM_PATH);
            let response = stub
                .fetch_with_request(Request::new_with_init(&url, &init)?)
                .await?;
            let status = response.status_code();
            let socket = response.websocket().ok_or_else(|| {
                worker::Error::RustError(format!("hub refused the stream ({status})"))
            })?;
            SocketMessages::accept(socket)
        })
        .await
        .map_err(unavailable)
    }
}

fn unavailable(error: worker::Error) -> HubError {
    HubError::unavailable(error.to_string())
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut out = worker::Url::parse("https://q/").expect("static URL");
    out.query_pairs_mut().extend_pairs(pairs);
    out.query().unwrap_or_default().to_owned()
}

impl fmt::Debug for DurableObjectHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableObjectHub")
            .field("shards", &self.shards)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl StreamHub for DurableObjectHub {
    async fn open_session_stream(
        &self,
        session: &SessionId,
        after: Option<&EventId>,
    ) -> Result<SessionStream, HubError> {
        let after = after.map(ToString::to_string);
        let mut pairs = vec![("kind", "session"), ("session", session.as_str())];
        if let Some(after) = &after {
            pairs.push(("after", after));
        }
        let mut messages = self.connect(self.shard_of(session)?, query(&pairs)).await?;
        let cursor = match messages
            .next()
            .await
            .map(|m| serde_json::from_str::<Frame>(&m))
        {
            Some(Ok(Frame::Cursor(cursor))) => cursor
                .parse::<EventId>()
                .map_err(|_| HubError::unavailable("hub sent a malformed cursor"))?,
            _ => {
                return Err(HubError::unavailable(
                    "hub closed the stream before its cursor",
                ))
            }
        };
        let events = messages.filter_map(|message| async move {
            match serde_json::from_str::<Frame>(&message) {
                Ok(Frame::Event { id, data }) => Some(Event {
                    id: id.parse().ok()?,
                    data: data.into(),
                }),
                _ => None,
            }
        });
        Ok(SessionStream {
            cursor,
            events: events.boxed(),
        })
    }

    async fn listen(&self, filter: ListenFilter) -> Result<MessageStream, HubError> {
        // Broadcasts reach every shard, so any shard can hold a listener.
        let shard = wire::shard_of(&uuid::Uuid::new_v4().simple().to_string(), self.shards);
        let filter = serde_json::to_string(&WireFilter::from(&filter))
            .map_err(|e| HubError::unavailable(e.to_string()))?;
        let messages = self
            .connect(
                self.shard(shard)?,
                query(&[("kind", "listen"), ("filter", &filter)]),
            )
            .await?;
        Ok(messages
            .filter_map(|message| async move {
                match serde_json::from_str::<Frame>(&message) {
                    Ok(Frame::Message(data)) => Some(Message::from(data)),
                    _ => None,
                }
            })
            .boxed())
    }

    async fn publish(&self, audience: &Audience, message: Message) -> Result<(), HubError> {
        let data = message.to_string();
        if let Audience::Session(session) = audience {
            let call = Call::Publish {
                session: session.to_string(),
                data,
            };
            return self.call_on(self.shard_of(session)?, &call).await.map(drop);
        }
        let audience = WireAudience::from_audience(audience).expect("not a session audience");
        let call = Call::Broadcast { audience, data };
        let stubs = (0..self.shards)
            .map(|shard| self.shard(shard))
            .collect::<Result<Vec<_>, _>>()?;
        let results = join_all(
            stubs
                .into_iter()
                .map(|stub| self.call_on(stub, &call).boxed()),
        )
        .await;
        results
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), Err)
    }

    async fn record(&self, session: &SessionId, event: Event) -> Result<(), HubError> {
        let call = Call::Record {
            session: session.to_string(),
            id: event.id.to_string(),
            data: event.data.to_string(),
        };
        self.call_on(self.shard_of(session)?, &call).await.map(drop)
    }

    async fn subscribe(
        &self,
        session: &SessionId,
        uri: &str,
        until_ms: u64,
        limit: usize,
    ) -> Result<bool, HubError> {
        let call = Call::Subscribe {
            session: session.to_string(),
            uri: uri.to_owned(),
            until_ms,
            limit,
        };
        Ok(self.call_on(self.shard_of(session)?, &call).await?.done)
    }

    async fn unsubscribe(&self, session: &SessionId, uri: &str) -> Result<(), HubError> {
        let call = Call::Unsubscribe {
            session: session.to_string(),
            uri: uri.to_owned(),
        };
        self.call_on(self.shard_of(session)?, &call).await.map(drop)
    }

    async fn extend_subscriptions(
        &self,
        session: &SessionId,
        until_ms: u64,
    ) -> Result<(), HubError> {
        let call = Call::ExtendSubscriptions {
            session: session.to_string(),
            until_ms,
        };
        self.call_on(self.shard_of(session)?, &call).await.map(drop)
    }

    async fn close_session(&self, session: &SessionId) -> Result<(), HubError> {
        let call = Call::Close {
            session: session.to_string(),
        };
        self.call_on(self.shard_of(session)?, &call).await.map(drop)
    }

    async fn expect_response(
        &self,
        session: &SessionId,
        request_id: &str,
    ) -> Result<PendingResponse, HubError> {
        let pairs = [
            ("kind", "await"),
            ("session", session.as_str()),
            ("request_id", request_id),
        ];
        let mut messages = self.connect(self.shard_of(session)?, query(&pairs)).await?;
        Ok(PendingResponse::new(async move {
            while let Some(message) = messages.next().await {
                if let Ok(Frame::Message(data)) = serde_json::from_str::<Frame>(&message) {
                    return Ok(Message::from(data));
                }
            }
            Err(HubError::Closed)
        }))
    }

    async fn deliver_response(
        &self,
        session: &SessionId,
        request_id: &str,
        message: Message,
    ) -> Result<bool, HubError> {
        let call = Call::Respond {
            session: session.to_string(),
            request_id: request_id.to_owned(),
            data: message.to_string(),
        };
        Ok(self.call_on(self.shard_of(session)?, &call).await?.done)
    }
}
