//! Protocol versions and the two wire eras they belong to.

/// Legacy, sessionful protocol versions (initialize handshake, `Mcp-Session-Id`).
pub const LEGACY_VERSIONS: &[&str] = &["2025-03-26", "2025-06-18", "2025-11-25"];

/// Stateless protocol versions (context in `_meta`, no session).
pub const STATELESS_VERSIONS: &[&str] = &["2026-07-28"];

/// The version assumed when a legacy request carries no `MCP-Protocol-Version` header.
pub const DEFAULT_LEGACY_VERSION: &str = "2025-03-26";

/// The first version whose SSE streams carry a priming event (SEP-1699); older clients may
/// choke on an event with empty data.
pub(crate) const FIRST_PRIMING_VERSION: &str = "2025-11-25";

/// The wire era a request belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Era {
    /// 2025-03-26 to 2025-11-25: sessions, GET streams, server-to-client requests.
    Legacy,
    /// 2026-07-28 and later: every request carries its own context.
    Stateless,
}

/// The era of a version this crate supports, or `None` for an unsupported version.
pub fn era_of(version: &str) -> Option<Era> {
    if LEGACY_VERSIONS.contains(&version) {
        Some(Era::Legacy)
    } else if STATELESS_VERSIONS.contains(&version) {
        Some(Era::Stateless)
    } else {
        None
    }
}

/// Whether a version names the stateless era, supported or not. Versions are ISO dates
/// (`YYYY-MM-DD`), so they compare as strings; anything else names no era.
pub(crate) fn is_stateless_era(version: &str) -> bool {
    is_date(version) && version >= STATELESS_VERSIONS[0]
}

fn is_date(version: &str) -> bool {
    let bytes = version.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

/// Whether streams of this (negotiated) version get a priming event.
pub(crate) fn wants_priming(version: &str) -> bool {
    version >= FIRST_PRIMING_VERSION
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eras() {
        assert_eq!(era_of("2025-06-18"), Some(Era::Legacy));
        assert_eq!(era_of("2026-07-28"), Some(Era::Stateless));
        assert_eq!(era_of("2024-11-05"), None);
        assert!(is_stateless_era("2027-01-01"));
        assert!(!is_stateless_era("latest") && !is_stateless_era("9"));
        assert!(!is_stateless_era("2025-11-25"));
        assert!(wants_priming("2025-11-25") && !wants_priming("2025-06-18"));
    }
}
