//! DNS-rebinding protection: the `Host` allow-list and the `Origin` check.

use http::{header, HeaderMap};

/// Hosts a server listening on loopback answers to.
const LOOPBACK_HOSTS: &[&str] = &["localhost", "127.0.0.1", "[::1]"];

/// Which `Host` values the layer serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HostPolicy {
    /// Loopback names only (the default: a local server must not answer rebound names).
    Loopback,
    /// These host names (ports ignored, case-insensitive).
    List(Vec<String>),
    /// No check (a deployed server behind a platform that routes by host already).
    Any,
}

/// Which `Origin` values the layer serves when a request carries one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OriginPolicy {
    /// Origins whose host passes the host policy.
    SameAsHosts,
    /// Exactly these origins (`scheme://host[:port]`, case-insensitive).
    List(Vec<String>),
    /// No check.
    Any,
}

/// `host[:port]` → `host` (IPv6 literals keep their brackets).
fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

impl HostPolicy {
    pub(crate) fn allows(&self, host: &str) -> bool {
        let host = strip_port(host.trim());
        match self {
            Self::Any => true,
            Self::Loopback => LOOPBACK_HOSTS.iter().any(|h| h.eq_ignore_ascii_case(host)),
            Self::List(hosts) => hosts.iter().any(|h| h.eq_ignore_ascii_case(host)),
        }
    }
}

impl OriginPolicy {
    fn allows(&self, origin: &str, hosts: &HostPolicy) -> bool {
        match self {
            Self::Any => true,
            Self::List(origins) => origins
                .iter()
                .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin)),
            Self::SameAsHosts => origin
                .split_once("://")
                .is_some_and(|(_, authority)| hosts.allows(authority)),
        }
    }
}

/// Why a request was refused by the rebinding check.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Forbidden {
    Host,
    Origin,
}

/// Checks `Host` (or the URI authority, for HTTP/2) and a present `Origin`.
pub(crate) fn check(
    headers: &HeaderMap,
    uri_host: Option<&str>,
    hosts: &HostPolicy,
    origins: &OriginPolicy,
) -> Result<(), Forbidden> {
    if *hosts != HostPolicy::Any {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or(uri_host);
        if !host.is_some_and(|h| hosts.allows(h)) {
            return Err(Forbidden::Host);
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let allowed = origin
            .to_str()
            .is_ok_and(|o| origins.allows(o.trim(), hosts));
        if !allowed {
            return Err(Forbidden::Origin);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn loopback_default() {
        let (h, o) = (HostPolicy::Loopback, OriginPolicy::SameAsHosts);
        assert!(check(&headers("127.0.0.1:8080", None), None, &h, &o).is_ok());
        assert!(check(
            &headers("[::1]:80", Some("http://localhost:3000")),
            None,
            &h,
            &o
        )
        .is_ok());
        assert_eq!(
            check(&headers("evil.example", None), None, &h, &o),
            Err(Forbidden::Host)
        );
        assert_eq!(
            check(
                &headers("localhost", Some("http://evil.example")),
                None,
                &h,
                &o
            ),
            Err(Forbidden::Origin)
        );
        assert_eq!(check(&HeaderMap::new(), None, &h, &o), Err(Forbidden::Host));
    }

    #[test]
    fn explicit_lists() {
        let h = HostPolicy::List(vec!["mcp.example.com".into()]);
        let o = OriginPolicy::List(vec!["https://app.example.com".into()]);
        assert!(check(
            &headers("MCP.example.com", Some("https://app.example.com")),
            None,
            &h,
            &o
        )
        .is_ok());
        assert!(check(
            &headers("mcp.example.com", Some("https://mcp.example.com")),
            None,
            &h,
            &o
        )
        .is_err());
    }
}
