//! JWT access tokens: which algorithms are allowed, and the claim checks that cannot be
//! forgotten (signature, `iss`, `aud`, `exp`, `nbf`).

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde_json::{Map, Value};

use super::identity::Identity;
use super::verifier::VerifyError;

/// Asymmetric algorithms only: an HMAC "verified" with a published key would accept tokens
/// anyone can sign, and `none` is not an algorithm (jsonwebtoken cannot even name it).
pub const DEFAULT_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What a JWT must satisfy to be accepted.
#[derive(Clone, Debug)]
pub(crate) struct JwtRules {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) leeway_secs: u64,
}

/// Whether `token` has the shape of a JWS compact serialization (three dot-separated parts).
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

/// The token's header, if its algorithm is allowed.
pub(crate) fn allowed_header(token: &str, rules: &JwtRules) -> Result<Header, VerifyError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| VerifyError::invalid("malformed token header"))?;
    if !rules.algorithms.contains(&header.alg) {
        return Err(VerifyError::invalid(format!(
            "algorithm {:?} not allowed",
            header.alg
        )));
    }
    Ok(header)
}

/// Verifies `token` with the first of `keys` whose signature matches, then its claims.
pub(crate) fn verify<'k>(
    token: &str,
    header: &Header,
    keys: impl IntoIterator<Item = &'k DecodingKey>,
    rules: &JwtRules,
) -> Result<Identity, VerifyError> {
    let mut validation = Validation::new(header.alg);
    validation.algorithms = vec![header.alg];
    let issuer = rules.issuer.trim_end_matches('/');
    validation.set_issuer(&[issuer.to_owned(), format!("{issuer}/")]);
    validation.set_audience(&[rules.audience.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.validate_nbf = true;
    validation.leeway = rules.leeway_secs;
    for key in keys {
        match jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation) {
            Ok(data) => {
                return Identity::from_claims(data.claims)
                    .ok_or_else(|| VerifyError::invalid("token names no subject or client"))
            }
            // Another key of the same id or family may have signed it.
            Err(error) if matches!(error.kind(), ErrorKind::InvalidSignature) => continue,
            Err(error) => return Err(refusal(error.kind())),
        }
    }
    Err(VerifyError::invalid(
        "signature does not match a published key",
    ))
}

fn refusal(kind: &ErrorKind) -> VerifyError {
    VerifyError::invalid(match kind {
        ErrorKind::ExpiredSignature => "token expired".into(),
        ErrorKind::ImmatureSignature => "token not yet valid".into(),
        ErrorKind::InvalidAudience => "token is meant for another audience".into(),
        ErrorKind::InvalidIssuer => "token from another issuer".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("token has no {claim} claim"),
        ErrorKind::InvalidClaimFormat(claim) => format!("token's {claim} claim is malformed"),
        ErrorKind::InvalidAlgorithm => "algorithm does not fit the key".into(),
        _ => "malformed token".into(),
    })
}
