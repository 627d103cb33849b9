//! [`VerifiedTokens`]: identities of tokens verified in the last minute, so a client's steady
//! requests cost a hash and a lookup instead of a signature check or an introspection call.
//! Keyed by the token's SHA-256 (tokens themselves are not kept); an entry lives until the
//! token expires, at most a minute (so a revoked token or a withdrawn key stops working soon).

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::identity::Identity;
use crate::context::now_ms;

/// Longest a verdict is reused.
const MAX_AGE_MS: u64 = 60_000;
/// Most verdicts kept (per process or isolate).
const MAX_ENTRIES: usize = 10_000;

/// The cache key of a token.
pub(crate) type TokenKey = [u8; 32];

/// See the module docs.
#[derive(Default)]
pub(crate) struct VerifiedTokens {
    entries: Mutex<HashMap<TokenKey, (Identity, u64)>>,
}

impl VerifiedTokens {
    pub(crate) fn key(token: &str) -> TokenKey {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The identity of a token verified earlier, while its verdict holds.
    pub(crate) fn get(&self, key: &TokenKey) -> Option<Identity> {
        let now = now_ms();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(identity, _)| identity.clone())
    }

    /// Remembers a verified token's identity until it expires, at most a minute.
    pub(crate) fn put(&self, key: TokenKey, identity: &Identity) {
        let now = now_ms();
        let until = identity
            .expires_at
            .map_or(u64::MAX, |exp| exp.saturating_mul(1000))
            .min(now.saturating_add(MAX_AGE_MS));
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, until)| *until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (identity.clone(), until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_lasts_until_the_token_expires() {
        let cache = VerifiedTokens::default();
        let now = now_ms() / 1000;
        cache.put(
            VerifiedTokens::key("live"),
            &Identity::new("a").with_expiry(now + 300),
        );
        cache.put(
            VerifiedTokens::key("dead"),
            &Identity::new("b").with_expiry(now - 1),
        );
        assert_eq!(
            cache.get(&VerifiedTokens::key("live")).unwrap().subject,
            "a"
        );
        assert!(cache.get(&VerifiedTokens::key("dead")).is_none());
        assert!(cache.get(&VerifiedTokens::key("other")).is_none());
    }
}
