//! Reading the access token a request presents: only from the `Authorization` header with the
//! `Bearer` scheme (any case), never from the query string (MCP forbids it).

use http::header::AUTHORIZATION;

/// What credentials a request presents.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Presented<'a> {
    /// No bearer token (no header, or another scheme such as `Basic`).
    Nothing,
    /// A syntactically valid bearer token.
    Bearer(&'a str),
    /// A `Bearer` header that is not a token (empty, spaces, stray characters, too long).
    Malformed(&'static str),
    /// An `access_token` in the query string.
    InQuery,
}

/// The token `parts` presents; headers longer than `max_bytes` are refused unread.
pub(crate) fn presented(parts: &http::request::Parts, max_bytes: usize) -> Presented<'_> {
    if let Some(query) = parts.uri.query() {
        if form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "access_token") {
            return Presented::InQuery;
        }
    }
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Presented::Nothing;
    };
    if values.next().is_some() {
        return Presented::Malformed("more than one Authorization header");
    }
    if value.len() > max_bytes {
        return Presented::Malformed("token too large");
    }
    let Ok(value) = value.to_str() else {
        return Presented::Malformed("Authorization header is not visible ASCII");
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Presented::Nothing;
    }
    let token = rest.trim_start_matches(' ');
    if is_token68(token) {
        Presented::Bearer(token)
    } else {
        Presented::Malformed("malformed bearer token")
    }
}

/// RFC 6750 §2.1: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`, and `:`,
/// which the grammar lacks but real tokens carry (`workers-oauth-provider` issues
/// `user:grant:secret`).
fn is_token68(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/:".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, authorization: &[&str]) -> http::request::Parts {
        let mut request = http::Request::get(uri);
        for value in authorization {
            request = request.header(AUTHORIZATION, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn bearer_in_any_case_and_nothing_else() {
        for header in [
            "Bearer abc.def-_~+/==",
            "bearer abc.def-_~+/==",
            "BEARER  abc.def-_~+/==",
        ] {
            let parts = parts("http://h/mcp", &[header]);
            assert_eq!(
                presented(&parts, 100),
                Presented::Bearer("abc.def-_~+/=="),
                "{header}"
            );
        }
        for header in ["Basic dXNlcjpwdw==", "Token abc", "Bearerabc"] {
            let parts = parts("http://h/mcp", &[header]);
            assert_eq!(presented(&parts, 100), Presented::Nothing, "{header}");
        }
        assert_eq!(
            presented(&parts("http://h/mcp", &[]), 100),
            Presented::Nothing
        );
    }

    #[test]
    fn malformed_oversized_doubled_and_query_tokens_are_refused() {
        for header in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a,b",
            "Bearer ==",
            "Bearer a=b",
        ] {
            let parts = parts("http://h/mcp", &[header]);
            assert!(
                matches!(presented(&parts, 100), Presented::Malformed(_)),
                "{header}"
            );
        }
        let colons = parts("http://h/mcp", &["Bearer user:grant:secret"]);
        assert_eq!(
            presented(&colons, 100),
            Presented::Bearer("user:grant:secret")
        );
        let long = format!("Bearer {}", "a".repeat(200));
        assert!(matches!(
            presented(&parts("http://h/mcp", &[&long]), 100),
            Presented::Malformed(_)
        ));
        let twice = parts("http://h/mcp", &["Bearer a", "Bearer b"]);
        assert!(matches!(presented(&twice, 100), Presented::Malformed(_)));
        let query = parts("http://h/mcp?x=1&access_token=abc", &["Bearer a"]);
        assert_eq!(presented(&query, 100), Presented::InQuery);
    }
}
