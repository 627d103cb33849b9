//! The resource-subscription index in the object's storage: one key per (URI, session) whose
//! value is when it lapses, so a broadcast lists just its URI's subscribers, and one key per
//! session listing its URIs, to replace or remove them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use worker::Result;

use super::storage::{delete_all, get_json, list, put_json};
use super::McpSessionHub;
use crate::context::now_ms;

/// Prefix of every (URI, session) key.
pub(super) const SUBSCRIBER_PREFIX: &str = "u:";
/// Prefix of every session's list of URIs.
pub(super) const SESSION_PREFIX: &str = "x:";

/// The prefix of a URI's subscriber keys; the length keeps one URI from prefixing another.
fn subscribers_prefix(uri: &str) -> String {
    format!("{SUBSCRIBER_PREFIX}{}:{uri}:", uri.len())
}

fn subscriber_key(uri: &str, session: &str) -> String {
    format!("{}{session}", subscribers_prefix(uri))
}

fn subscriptions_key(session: &str) -> String {
    format!("{SESSION_PREFIX}{session}")
}

/// The URIs a session is subscribed to, and until when.
#[derive(Serialize, Deserialize, Default, Debug)]
pub(super) struct Subscriptions {
    uris: BTreeSet<String>,
    pub(super) expires_at_ms: u64,
}

impl McpSessionHub {
    async fn subscriptions(&self, session: &str) -> Result<Subscriptions> {
        let stored: Option<Subscriptions> =
            get_json(&self.storage(), &subscriptions_key(session)).await?;
        // Lapsed subscriptions count for nothing.
        Ok(stored
            .filter(|s| s.expires_at_ms > now_ms())
            .unwrap_or_default())
    }

    /// Writes a session's subscriptions: its list, and one index key per URI.
    async fn store_subscriptions(
        &self,
        session: &str,
        subscriptions: &Subscriptions,
    ) -> Result<()> {
        let mut values: Vec<(String, String)> = subscriptions
            .uris
            .iter()
            .map(|uri| {
                (
                    subscriber_key(uri, session),
                    subscriptions.expires_at_ms.to_string(),
                )
            })
            .collect();
        values.push((
            subscriptions_key(session),
            serde_json::to_string(subscriptions)?,
        ));
        put_json(&self.storage(), &values).await?;
        self.arm_sweep().await
    }

    /// Subscribes a session to a URI until `until_ms`; `false` at the limit.
    pub(super) async fn subscribe(
        &self,
        session: &str,
        uri: String,
        until_ms: u64,
        limit: usize,
    ) -> Result<bool> {
        let mut subscriptions = self.subscriptions(session).await?;
        if !subscriptions.uris.contains(&uri) && subscriptions.uris.len() >= limit {
            return Ok(false);
        }
        subscriptions.uris.insert(uri);
        subscriptions.expires_at_ms = until_ms;
        self.store_subscriptions(session, &subscriptions).await?;
        Ok(true)
    }

    pub(super) async fn unsubscribe(&self, session: &str, uri: &str) -> Result<()> {
        let mut subscriptions = self.subscriptions(session).await?;
        if subscriptions.uris.remove(uri) {
            self.storage().delete(&subscriber_key(uri, session)).await?;
            self.store_subscriptions(session, &subscriptions).await?;
        }
        Ok(())
    }

    pub(super) async fn extend_subscriptions(&self, session: &str, until_ms: u64) -> Result<()> {
        let mut subscriptions = self.subscriptions(session).await?;
        if subscriptions.uris.is_empty() {
            return Ok(());
        }
        subscriptions.expires_at_ms = until_ms;
        self.store_subscriptions(session, &subscriptions).await
    }

    pub(super) async fn forget_subscriptions(&self, session: &str) -> Result<()> {
        let stored: Option<Subscriptions> =
            get_json(&self.storage(), &subscriptions_key(session)).await?;
        let mut keys: Vec<String> = stored
            .map(|s| s.uris)
            .unwrap_or_default()
            .iter()
            .map(|uri| subscriber_key(uri, session))
            .collect();
        keys.push(subscriptions_key(session));
        delete_all(&self.storage(), keys).await
    }

    /// The live subscribers of a URI; lapsed ones are deleted on the way.
    pub(super) async fn subscribers(&self, uri: &str) -> Result<Vec<String>> {
        let prefix = subscribers_prefix(uri);
        let now = now_ms();
        let (mut live, mut lapsed) = (Vec::new(), Vec::new());
        for (key, value) in list(&self.storage(), &prefix).await? {
            let until = value.parse::<u64>().unwrap_or(0);
            match key.strip_prefix(&prefix) {
                Some(session) if until > now => live.push(session.to_owned()),
                _ => lapsed.push(key),
            }
        }
        delete_all(&self.storage(), lapsed).await?;
        Ok(live)
    }
}
