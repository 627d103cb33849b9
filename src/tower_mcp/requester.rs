//! tower-mcp's [`ClientRequester`] over the layer: a handler's `ctx.sample(…)`,
//! `ctx.elicit_form(…)` or `ctx.request(…)` goes out on the request's own POST stream, and the
//! client's answer — POSTed to any instance — comes back through the hub.

use async_trait::async_trait;
use futures_channel::mpsc::UnboundedSender;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tower_mcp::protocol::{
    CreateMessageParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
};
use tower_mcp::{ClientRequester, Error};

use crate::answer::Outgoing;
use crate::context::{McpContext, SessionId};
use crate::notify::{ClientRequestError, Notifier};

/// Sends a legacy session's server-to-client requests through the layer.
pub(crate) struct LayerRequester {
    pub(crate) notifier: Notifier,
    pub(crate) session: SessionId,
    pub(crate) context: McpContext,
    /// The request's POST stream.
    pub(crate) stream: UnboundedSender<Outgoing>,
}

impl LayerRequester {
    async fn ask<T: DeserializeOwned>(
        &self,
        capability: &str,
        method: &str,
        params: impl serde::Serialize,
    ) -> Result<T, Error> {
        if !self.context.client_supports(capability) {
            return Err(Error::internal(format!(
                "the client did not declare the {capability} capability"
            )));
        }
        let params = serde_json::to_value(params).map_err(Error::Serialization)?;
        let answer = self.request(method.to_owned(), params).await?;
        serde_json::from_value(answer).map_err(Error::Serialization)
    }
}

#[async_trait]
impl ClientRequester for LayerRequester {
    async fn sample(&self, params: CreateMessageParams) -> Result<CreateMessageResult, Error> {
        self.ask("sampling", "sampling/createMessage", params).await
    }

    async fn elicit(&self, params: ElicitRequestParams) -> Result<ElicitResult, Error> {
        self.ask("elicitation", "elicitation/create", params).await
    }

    async fn request(&self, method: String, params: Value) -> Result<Value, Error> {
        let outgoing = self
            .notifier
            .prepare_request(&self.session, &method, params)
            .await
            .map_err(|error| Error::internal(format!("could not reach the client: {error}")))?;
        let sent = self.stream.unbounded_send(Outgoing {
            json: outgoing.message.to_string(),
            answer_status: None,
        });
        if sent.is_err() {
            return Err(Error::internal("the request's stream has ended"));
        }
        outgoing.response.await.map_err(|error| match error {
            ClientRequestError::Rejected { code, message } => {
                Error::internal(format!("the client refused {method} ({code}): {message}"))
            }
            other => Error::internal(format!("no answer to {method}: {other}")),
        })
    }
}
