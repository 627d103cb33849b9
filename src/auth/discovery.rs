//! Finding an issuer's endpoints: RFC 8414 authorization server metadata, OpenID Connect
//! discovery as the fallback.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::endpoint::{secure_url, well_known};
use super::http::{fetch_json, get, HttpClient};
use crate::body::BoxError;

/// What the resource server needs of an authorization server's metadata.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct IssuerMetadata {
    pub(crate) issuer: String,
    #[serde(default)]
    pub(crate) jwks_uri: Option<String>,
    #[serde(default)]
    pub(crate) introspection_endpoint: Option<String>,
}

/// The metadata URLs to try for `issuer`, in order: RFC 8414 (path inserted), OIDC with the
/// path inserted (RFC 8414 §5 compatibility), OIDC with the path appended (OpenID Connect
/// Discovery 1.0 §4).
fn candidates(issuer: &Url) -> Vec<String> {
    let mut urls = vec![
        well_known(issuer, "oauth-authorization-server"),
        well_known(issuer, "openid-configuration"),
    ];
    let appended = format!(
        "{}/.well-known/openid-configuration",
        issuer.as_str().trim_end_matches('/')
    );
    if !urls.contains(&appended) {
        urls.push(appended);
    }
    urls
}

/// Fetches `issuer`'s metadata. A document must name exactly this issuer (RFC 8414 §3.3)
/// and publish only secure endpoints; a URL that answers nothing usable moves on to the next.
pub(crate) async fn discover(
    http: &dyn HttpClient,
    issuer: &Url,
    timeout: Duration,
) -> Result<IssuerMetadata, BoxError> {
    let mut failures = Vec::new();
    for url in candidates(issuer) {
        match fetch_json::<IssuerMetadata>(http, get(&url)?, timeout).await {
            Ok(metadata) => {
                if !same_issuer(&metadata.issuer, issuer) {
                    return Err(
                        format!("{url} names issuer {:?}, not {issuer}", metadata.issuer).into(),
                    );
                }
                for endpoint in [&metadata.jwks_uri, &metadata.introspection_endpoint]
                    .into_iter()
                    .flatten()
                {
                    secure_url("authorization server endpoint", endpoint)?;
                }
                return Ok(metadata);
            }
            Err(error) => failures.push(error.to_string()),
        }
    }
    Err(format!("no authorization server metadata: {}", failures.join("; ")).into())
}

/// Issuer identifiers compare as strings (RFC 8414 §3.3); a lone trailing `/` is the one
/// difference tolerated, since `Url` adds it to a bare origin.
pub(crate) fn same_issuer(named: &str, issuer: &Url) -> bool {
    named.trim_end_matches('/') == issuer.as_str().trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_8414_first_then_both_oidc_forms() {
        let issuer = Url::parse("https://as.example.com/tenant").unwrap();
        assert_eq!(
            candidates(&issuer),
            [
                "https://as.example.com/.well-known/oauth-authorization-server/tenant",
                "https://as.example.com/.well-known/openid-configuration/tenant",
                "https://as.example.com/tenant/.well-known/openid-configuration",
            ]
        );
        let bare = Url::parse("https://as.example.com").unwrap();
        assert_eq!(candidates(&bare).len(), 2);
    }
}
