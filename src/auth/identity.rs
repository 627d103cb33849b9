//! [`Identity`]: who a verified access token speaks for, as the inner service sees it.

use serde_json::{Map, Value};

/// The verified identity behind a request's access token.
///
/// The auth layer puts it in the request's extensions before calling the service it wraps;
/// rmcp handlers find it in the `http::request::Parts` of `RequestContext::extensions`, axum
/// handlers through `Extension<Identity>`. The token itself is never passed on (MCP forbids
/// token passthrough). [`SessionLayer`](crate::SessionLayer) binds each session to
/// [`subject`](Self::subject).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Identity {
    /// The token's subject (`sub`), or for tokens without one, its client (`client_id`).
    pub subject: String,
    /// The OAuth client the token was issued to (`client_id`, `azp` or `cid`).
    pub client_id: Option<String>,
    /// The scopes the token grants (`scope`, or `scp`).
    pub scopes: Vec<String>,
    /// When the token expires, seconds since the Unix epoch (`exp`).
    pub expires_at: Option<u64>,
    /// Who issued the token (`iss`).
    pub issuer: Option<String>,
    /// All claims of the token (JWT) or of the introspection answer.
    pub claims: Map<String, Value>,
}

impl Identity {
    /// An identity of `subject` with no scopes, expiry or claims (for custom verifiers).
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            client_id: None,
            scopes: Vec::new(),
            expires_at: None,
            issuer: None,
            claims: Map::new(),
        }
    }

    /// The same identity granting these scopes.
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The same identity expiring at `expires_at` (seconds since the Unix epoch).
    #[must_use]
    pub fn with_expiry(mut self, expires_at: u64) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// The same identity issued to `client_id`.
    #[must_use]
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The identity an OAuth claim set describes (a JWT's claims, or an RFC 7662
    /// introspection answer, which uses the same names). `None` when it names neither a
    /// subject nor a client.
    pub(crate) fn from_claims(claims: Map<String, Value>) -> Option<Self> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let client_id = text("client_id")
            .or_else(|| text("azp"))
            .or_else(|| text("cid"));
        let subject = text("sub").or_else(|| client_id.clone())?;
        let scopes = match claims.get("scope").or_else(|| claims.get("scp")) {
            Some(Value::String(list)) => list.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        Some(Self {
            subject,
            client_id,
            scopes,
            expires_at: claims.get("exp").and_then(Value::as_u64),
            issuer: text("iss"),
            claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn scopes_from_a_space_separated_scope_or_an_scp_list() {
        let spaced = Identity::from_claims(claims(json!({"sub": "a", "scope": "x  y"}))).unwrap();
        assert_eq!(spaced.scopes, ["x", "y"]);
        let listed = Identity::from_claims(claims(json!({"sub": "a", "scp": ["x", "y"]}))).unwrap();
        assert_eq!(listed.scopes, ["x", "y"]);
    }

    #[test]
    fn a_client_token_without_subject_speaks_for_its_client() {
        let identity = Identity::from_claims(claims(json!({"client_id": "c", "exp": 9}))).unwrap();
        assert_eq!(identity.subject, "c");
        assert_eq!(identity.expires_at, Some(9));
        assert!(Identity::from_claims(claims(json!({"scope": "x"}))).is_none());
    }
}
