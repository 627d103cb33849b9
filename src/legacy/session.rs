//! Finding the session a request names, and keeping it alive.

use serde_json::value::RawValue;

use crate::context::{now_ms, SessionId, SessionRecord};
use crate::layer::Config;
use crate::protocol::headers::{MCP_PROTOCOL_VERSION, MCP_SESSION_ID};
use crate::protocol::rejection::Rejection;
use crate::protocol::version::{era_of, Era};

pub(super) fn null_id() -> &'static RawValue {
    serde_json::from_str("null").expect("null is JSON")
}

/// Finds the session a request names and checks it may use it: 400 without an id, 404 for an
/// unknown, expired, deleted or foreign session, 503 when the store fails. Extends the
/// session's life when less than half of it remains.
pub(super) async fn load_session(
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
        if config.principal_of(parts).as_deref() != Some(bound.as_str()) {
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
