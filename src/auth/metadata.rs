//! The RFC 9728 Protected Resource Metadata document and where it is served.

use serde::Serialize;
use url::Url;

use super::endpoint::well_known;

/// `/.well-known/oauth-protected-resource`: the root form of the metadata path.
pub const PROTECTED_RESOURCE_PATH: &str = "/.well-known/oauth-protected-resource";

/// The document (RFC 9728 §2).
#[derive(Debug, Serialize)]
pub(crate) struct ProtectedResource<'a> {
    pub(crate) resource: &'a str,
    pub(crate) authorization_servers: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub(crate) scopes_supported: &'a [String],
    pub(crate) bearer_methods_supported: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resource_name: Option<&'a str>,
}

/// The metadata URL for `resource`: the well-known path with the resource's path inserted.
pub(crate) fn metadata_url(resource: &Url) -> String {
    well_known(resource, "oauth-protected-resource")
}

/// The paths the document is served at: with the resource's path inserted (what clients are
/// told in the challenge) and at the root (what clients try when told nothing).
pub(crate) fn metadata_paths(resource: &Url) -> Vec<String> {
    let inserted = format!(
        "{PROTECTED_RESOURCE_PATH}{}",
        resource.path().trim_end_matches('/')
    );
    if inserted == PROTECTED_RESOURCE_PATH {
        vec![inserted]
    } else {
        vec![inserted, PROTECTED_RESOURCE_PATH.to_owned()]
    }
}
