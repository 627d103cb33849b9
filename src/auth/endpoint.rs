//! Which URLs the auth layer trusts: `https://`, or `http://` on loopback only (for tests and
//! local development), so tokens and keys never travel in the clear.

use url::{Host, Url};

use super::AuthConfigError;

/// Parses `text` as an absolute URL the auth layer may use.
pub(crate) fn secure_url(what: &'static str, text: &str) -> Result<Url, AuthConfigError> {
    let url = Url::parse(text).map_err(|error| AuthConfigError::Url {
        what,
        url: text.to_owned(),
        reason: error.to_string(),
    })?;
    let loopback = match url.host() {
        Some(Host::Domain(name)) => name == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let allowed = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !allowed || url.cannot_be_a_base() {
        return Err(AuthConfigError::Url {
            what,
            url: text.to_owned(),
            reason: "must be https:// (http:// only on loopback)".into(),
        });
    }
    if url.fragment().is_some() {
        return Err(AuthConfigError::Url {
            what,
            url: text.to_owned(),
            reason: "must not have a fragment".into(),
        });
    }
    Ok(url)
}

/// `origin + /.well-known/<name> + path of url` (RFC 8414 §3, RFC 9728 §3: the well-known
/// part goes between the host and the path; a bare `/` path adds nothing).
pub(crate) fn well_known(url: &Url, name: &str) -> String {
    let path = url.path().trim_end_matches('/');
    format!(
        "{}/.well-known/{name}{path}",
        url.origin().ascii_serialization()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        assert!(secure_url("issuer", "https://auth.example.com").is_ok());
        assert!(secure_url("issuer", "http://127.0.0.1:9000").is_ok());
        assert!(secure_url("issuer", "http://[::1]:9000/t").is_ok());
        assert!(secure_url("issuer", "http://localhost:9000").is_ok());
        assert!(secure_url("issuer", "http://auth.example.com").is_err());
        assert!(secure_url("issuer", "http://127.0.0.1.example.com").is_err());
        assert!(secure_url("issuer", "ftp://127.0.0.1").is_err());
        assert!(secure_url("issuer", "https://a.example/#x").is_err());
        assert!(secure_url("issuer", "not a url").is_err());
    }

    #[test]
    fn well_known_goes_between_host_and_path() {
        let url = Url::parse("https://mcp.example.com/tenant/mcp").unwrap();
        assert_eq!(
            well_known(&url, "oauth-protected-resource"),
            "https://mcp.example.com/.well-known/oauth-protected-resource/tenant/mcp"
        );
        let root = Url::parse("https://as.example.com/").unwrap();
        assert_eq!(
            well_known(&root, "oauth-authorization-server"),
            "https://as.example.com/.well-known/oauth-authorization-server"
        );
    }
}
