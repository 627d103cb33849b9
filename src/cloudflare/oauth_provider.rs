//! [`WorkersOAuthTokens`]: the opaque access tokens of Cloudflare's `workers-oauth-provider`,
//! looked up in the KV namespace where the provider keeps them (its `OAUTH_KV`).
//!
//! The provider issues `userId:grantId:secret` and stores the token's record under
//! `token:{userId}:{grantId}:{hex SHA-256 of the whole token}` until it expires; the record
//! names the user, the client, the scopes, the expiry and (when the client asked for one,
//! RFC 8707) the audience.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use worker::send::{SendFuture, SendWrapper};
use worker::KvStore;

use crate::auth::{Identity, TokenVerifier, VerifyError};
use crate::context::now_ms;

/// Verifies `workers-oauth-provider` access tokens for one resource.
///
/// ```ignore
/// let verifier = WorkersOAuthTokens::new(env.kv("OAUTH_KV")?, "https://mcp.example.com/mcp");
/// let auth = AuthLayer::new("https://mcp.example.com/mcp", verifier)?
///     .with_authorization_server("https://auth.example.com");
/// ```
///
/// A token whose record names an audience must name this resource; one without (issued to a
/// client that sent no `resource`) is the provider's token for its own API, which this Worker
/// serves, and is accepted.
pub struct WorkersOAuthTokens {
    kv: SendWrapper<KvStore>,
    resource: String,
}

impl WorkersOAuthTokens {
    /// Tokens kept in `kv`, for `resource` (the canonical URL of the MCP endpoint).
    pub fn new(kv: KvStore, resource: impl Into<String>) -> Self {
        Self {
            kv: SendWrapper::new(kv),
            resource: resource.into(),
        }
    }
}

impl std::fmt::Debug for WorkersOAuthTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkersOAuthTokens")
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// The parts of the provider's token record this verifier reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredToken {
    user_id: String,
    expires_at: u64,
    #[serde(default)]
    scope: Option<Vec<String>>,
    #[serde(default)]
    audience: Option<Audience>,
    grant: StoredGrant,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredGrant {
    client_id: String,
    #[serde(default)]
    scope: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Where the provider keeps `token`, if it has the provider's shape.
fn record_key(token: &str) -> Option<String> {
    let mut parts = token.split(':');
    let (Some(user), Some(grant), Some(secret), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if user.is_empty() || grant.is_empty() || secret.is_empty() {
        return None;
    }
    let digest = Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("token:{user}:{grant}:{hex}"))
}

/// The identity a stored record grants, checked against the resource and the time.
fn identity(record: StoredToken, resource: &str, now_secs: u64) -> Result<Identity, VerifyError> {
    if record.expires_at <= now_secs {
        return Err(VerifyError::invalid("token expired"));
    }
    let for_us = match &record.audience {
        None => true,
        Some(Audience::One(aud)) => aud == resource,
        Some(Audience::Many(list)) => list.iter().any(|aud| aud == resource),
    };
    if !for_us {
        return Err(VerifyError::invalid("token is meant for another audience"));
    }
    let scopes = record.scope.unwrap_or(record.grant.scope);
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(record.user_id));
    claims.insert("client_id".into(), json!(record.grant.client_id));
    claims.insert("scope".into(), json!(scopes.join(" ")));
    claims.insert("exp".into(), json!(record.expires_at));
    if let Some(audience) = record.audience {
        claims.insert(
            "aud".into(),
            match audience {
                Audience::One(aud) => Value::from(aud),
                Audience::Many(list) => Value::from(list),
            },
        );
    }
    Identity::from_claims(claims).ok_or_else(|| VerifyError::invalid("token names no user"))
}

#[async_trait]
impl TokenVerifier for WorkersOAuthTokens {
    async fn verify(&self, token: &str) -> Result<Identity, VerifyError> {
        let key = record_key(token)
            .ok_or_else(|| VerifyError::invalid("not a workers-oauth-provider token"))?;
        let kv = self.kv.clone();
        let stored = SendFuture::new(async move { kv.get(&key).text().await })
            .await
            .map_err(|error| VerifyError::unavailable(error.to_string()))?
            .ok_or_else(|| VerifyError::invalid("unknown token"))?;
        let record: StoredToken = serde_json::from_str(&stored)
            .map_err(|_| VerifyError::invalid("unreadable token record"))?;
        identity(record, &self.resource, now_ms() / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESOURCE: &str = "https://mcp.example.com/mcp";

    fn record(value: Value) -> StoredToken {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_record_key_is_the_providers() {
        // The digest as Python's hashlib spells it.
        assert_eq!(
            record_key("u1:g1:s3cret").unwrap(),
            "token:u1:g1:424edd666ec7719c2d682b64223571e98af5335f1a307cc72e690b1165f37a46"
        );
        for bad in ["u1:g1", "u1:g1:s:x", "::s", "u1::s", "abc"] {
            assert!(record_key(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn live_records_for_this_resource_grant_their_scopes() {
        let live = json!({"id": "x", "userId": "alice", "grantId": "g1", "expiresAt": 200,
            "scope": ["mcp:tools"], "audience": RESOURCE,
            "grant": {"clientId": "c1", "scope": ["mcp:tools", "admin"], "encryptedProps": ""}});
        let identity = identity(record(live), RESOURCE, 100).unwrap();
        assert_eq!(identity.subject, "alice");
        assert_eq!(identity.client_id.as_deref(), Some("c1"));
        assert_eq!(identity.scopes, ["mcp:tools"]);
        assert_eq!(identity.expires_at, Some(200));
        let no_audience = json!({"userId": "bob", "expiresAt": 200,
            "grant": {"clientId": "c1", "scope": ["a"]}});
        assert_eq!(
            super::identity(record(no_audience), RESOURCE, 100)
                .unwrap()
                .scopes,
            ["a"]
        );
    }

    #[test]
    fn expired_records_and_other_audiences_are_refused() {
        let expired = json!({"userId": "a", "expiresAt": 100, "grant": {"clientId": "c"}});
        assert!(identity(record(expired), RESOURCE, 100).is_err());
        let elsewhere = json!({"userId": "a", "expiresAt": 200, "audience": ["https://other/mcp"],
            "grant": {"clientId": "c"}});
        assert!(identity(record(elsewhere), RESOURCE, 100).is_err());
    }
}
