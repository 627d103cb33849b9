//! `Accept` and `Content-Type` checks (406 / 415).

use http::{header, HeaderMap};

use super::headers::{APPLICATION_JSON, TEXT_EVENT_STREAM};

/// Whether the request's `Accept` header admits `wanted` (`type/subtype`), wildcards included.
/// A missing header admits everything, as RFC 9110 says.
pub(crate) fn accepts(headers: &HeaderMap, wanted: &str) -> bool {
    let mut values = headers.get_all(header::ACCEPT).iter().peekable();
    if values.peek().is_none() {
        return true;
    }
    let (wanted_type, _) = wanted.split_once('/').unwrap_or((wanted, ""));
    values
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|range| range.split(';').next().unwrap_or("").trim())
        .any(|range| {
            range.eq_ignore_ascii_case(wanted)
                || range == "*/*"
                || range
                    .strip_suffix("/*")
                    .is_some_and(|t| t.eq_ignore_ascii_case(wanted_type))
        })
}

/// A legacy POST must accept both JSON and SSE answers.
pub(crate) fn accepts_post_answers(headers: &HeaderMap) -> bool {
    accepts(headers, APPLICATION_JSON) && accepts(headers, TEXT_EVENT_STREAM)
}

/// Whether the body is declared as JSON (`application/json`, any parameters).
pub(crate) fn is_json_content(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(APPLICATION_JSON))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with_accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn accept_ranges() {
        assert!(accepts_post_answers(&with_accept(
            "application/json, text/event-stream"
        )));
        assert!(accepts_post_answers(&with_accept("*/*")));
        assert!(accepts_post_answers(&with_accept(
            "application/*;q=0.9, text/*"
        )));
        assert!(!accepts_post_answers(&with_accept("application/json")));
        assert!(!accepts(&with_accept("text/html"), TEXT_EVENT_STREAM));
        assert!(accepts(&HeaderMap::new(), TEXT_EVENT_STREAM));
    }

    #[test]
    fn content_type() {
        let mut headers = HeaderMap::new();
        assert!(!is_json_content(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(is_json_content(&headers));
    }
}
