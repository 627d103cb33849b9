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
    /// Replaces a session's subscriptions, valid until `expires_at_ms`.
    pub(super) async fn set_subscriptions(
        &self,
        session: &str,
        uris: BTreeSet<String>,
        expires_at_ms: u64,
    ) -> Result<()> {
        let storage = self.storage();
        let previous: Subscriptions = get_json(&storage, &subscriptions_key(session))
            .await?
            .unwrap_or_default();
        let dropped: Vec<String> = previous
            .uris
            .difference(&uris)
            .map(|uri| subscriber_key(uri, session))
            .collect();
        delete_all(&storage, dropped).await?;
        if uris.is_empty() {
            storage.delete(&subscriptions_key(session)).await?;
            return Ok(());
        }
        let mut values: Vec<(String, String)> = uris
            .iter()
            .map(|uri| (subscriber_key(uri, session), expires_at_ms.to_string()))
            .collect();
        values.push((
            subscriptions_key(session),
            serde_json::to_string(&Subscriptions {
                uris,
                expires_at_ms,
            })?,
        ));
        put_json(&storage, &values).await?;
        self.arm_sweep().await
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
