//! DELETE: ends a session.

use http::{Response, StatusCode};

use super::session::load_session;
use crate::body::SessionBody;
use crate::layer::Config;
use crate::protocol::rejection::Rejection;
use crate::service::Reply;

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
