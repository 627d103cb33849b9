//! Opaque access tokens: RFC 7662 introspection at the authorization server.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::http::{fetch_json, HttpClient};
use super::identity::Identity;
use super::verifier::VerifyError;
use crate::context::now_ms;

/// The resource server's own client credentials at the authorization server.
#[derive(Clone)]
pub(crate) struct ClientCredentials {
    pub(crate) id: String,
    pub(crate) secret: String,
}

impl ClientCredentials {
    /// `Authorization: Basic` with both parts form-encoded first (RFC 6749 §2.3.1).
    fn basic(&self) -> String {
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", encode(&self.id), encode(&self.secret));
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

/// Asks `endpoint` about `token`.
pub(crate) async fn introspect(
    http: &dyn HttpClient,
    endpoint: &str,
    credentials: &ClientCredentials,
    token: &str,
    issuer: &str,
    audience: &str,
    timeout: Duration,
) -> Result<Identity, VerifyError> {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("token_type_hint", "access_token")
        .finish();
    let request = http::Request::post(endpoint)
        .header(http::header::AUTHORIZATION, credentials.basic())
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json")
        .body(Bytes::from(form))
        .map_err(VerifyError::unavailable)?;
    let answer: Map<String, Value> = fetch_json(http, request, timeout)
        .await
        .map_err(VerifyError::Unavailable)?;
    accept(answer, issuer, audience, now_ms() / 1000)
}

/// An introspection answer's verdict: active, not expired, for this audience and issuer.
fn accept(
    answer: Map<String, Value>,
    issuer: &str,
    audience: &str,
    now_secs: u64,
) -> Result<Identity, VerifyError> {
    if answer.get("active") != Some(&Value::Bool(true)) {
        return Err(VerifyError::invalid("token is not active"));
    }
    if answer
        .get("exp")
        .and_then(Value::as_u64)
        .is_some_and(|exp| exp <= now_secs)
    {
        return Err(VerifyError::invalid("token expired"));
    }
    // RFC 8707: a token must be meant for this resource; one that names no audience could be
    // meant for any, so it is refused too.
    let for_us = match answer.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !for_us {
        return Err(VerifyError::invalid("token is meant for another audience"));
    }
    if let Some(named) = answer.get("iss").and_then(Value::as_str) {
        if named.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(VerifyError::invalid("token from another issuer"));
        }
    }
    Identity::from_claims(answer)
        .ok_or_else(|| VerifyError::invalid("token names no subject or client"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn only_active_unexpired_tokens_for_this_audience() {
        let ok =
            json!({"active": true, "sub": "a", "aud": ["x", "r"], "exp": 100, "iss": "https://i/"});
        assert_eq!(
            accept(answer(ok), "https://i", "r", 50).unwrap().subject,
            "a"
        );
        let cases = [
            json!({"active": false, "sub": "a", "aud": "r"}),
            json!({"active": "true", "sub": "a", "aud": "r"}),
            json!({"active": true, "sub": "a", "aud": "r", "exp": 50}),
            json!({"active": true, "sub": "a", "aud": "other"}),
            json!({"active": true, "sub": "a"}),
            json!({"active": true, "sub": "a", "aud": "r", "iss": "https://evil"}),
            json!({"active": true, "aud": "r"}),
        ];
        for case in cases {
            assert!(
                accept(answer(case.clone()), "https://i", "r", 50).is_err(),
                "{case}"
            );
        }
    }

    #[test]
    fn client_credentials_are_form_encoded_before_base64() {
        let credentials = ClientCredentials {
            id: "a b".into(),
            secret: "p:w".into(),
        };
        let expected = base64::engine::general_purpose::STANDARD.encode("a+b:p%3Aw");
        assert_eq!(credentials.basic(), format!("Basic {expected}"));
    }
}
