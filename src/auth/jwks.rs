//! [`KeySet`]: the verification keys of an issuer's JWKS (RFC 7517), with what each may verify.

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;

use crate::body::BoxError;

/// One usable public key.
struct Key {
    id: Option<String>,
    /// The key's own `alg`, when it names one: then it verifies nothing else.
    algorithm: Option<Algorithm>,
    family: AlgorithmFamily,
    key: DecodingKey,
}

/// The usable keys of a JWKS document. Keys for encryption, symmetric (`oct`) keys — a
/// published HMAC secret would let anyone sign — and keys of unknown types are left out.
pub(crate) struct KeySet {
    keys: Vec<Key>,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parses a JWKS document; it must be JSON with a `keys` array, even an empty one.
    pub(crate) fn parse(document: serde_json::Value) -> Result<Self, BoxError> {
        let document: Document =
            serde_json::from_value(document).map_err(|e| format!("not a JWKS: {e}"))?;
        let keys = document
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter_map(|jwk| usable(&jwk))
            .collect();
        Ok(Self { keys })
    }

    /// The keys that may verify a token signed with `algorithm` under key id `kid` (all keys
    /// of the algorithm's family when the token names no key).
    pub(crate) fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        algorithm: Algorithm,
    ) -> impl Iterator<Item = &'a DecodingKey> + 'a {
        self.keys
            .iter()
            .filter(move |key| match kid {
                Some(kid) => key.id.as_deref() == Some(kid),
                None => true,
            })
            .filter(move |key| {
                key.family == algorithm.family() && key.algorithm.is_none_or(|a| a == algorithm)
            })
            .map(|key| &key.key)
    }

    /// Whether the set has a key with this id.
    #[cfg(test)]
    pub(crate) fn has_key_id(&self, kid: &str) -> bool {
        self.keys.iter().any(|key| key.id.as_deref() == Some(kid))
    }
}

fn usable(jwk: &Jwk) -> Option<Key> {
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
        AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
        AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Ed,
        _ => return None,
    };
    let algorithm = match jwk.common.key_algorithm {
        // A key naming an algorithm this crate cannot use (an encryption one) is no signing key.
        Some(named) => Some(Algorithm::try_from(named).ok()?),
        None => None,
    };
    Some(Key {
        id: jwk.common.key_id.clone(),
        algorithm,
        family,
        key: DecodingKey::from_jwk(jwk).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

    #[test]
    fn symmetric_encryption_and_unknown_keys_are_left_out() {
        let set = KeySet::parse(json!({"keys": [
            {"kty": "RSA", "kid": "sig", "use": "sig", "alg": "RS256", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP", "n": N, "e": "AQAB"},
            {"kty": "oct", "kid": "mac", "k": "c2VjcmV0"},
            {"kty": "weird", "kid": "x"},
        ]}))
        .unwrap();
        assert!(set.has_key_id("sig"));
        for dropped in ["enc", "oaep", "mac", "x"] {
            assert!(!set.has_key_id(dropped), "{dropped}");
        }
        assert_eq!(set.candidates(Some("sig"), Algorithm::RS256).count(), 1);
        // A key that names RS256 verifies nothing else, not even RS512.
        assert_eq!(set.candidates(Some("sig"), Algorithm::RS512).count(), 0);
        assert_eq!(set.candidates(None, Algorithm::HS256).count(), 0);
        assert_eq!(set.candidates(None, Algorithm::ES256).count(), 0);
    }

    #[test]
    fn junk_is_an_error_and_an_empty_set_is_not() {
        assert!(KeySet::parse(json!("not json")).is_err());
        assert!(KeySet::parse(json!({"keys": []})).is_ok());
    }
}
