//! The auth layer through its public API (`oneshot`): an issuer with real keys (PEM files in
//! tests/keys) reached through an in-memory `HttpClient` that can go down, answer junk or hang,
//! and counts what it is asked — in front of the session layer and the everything fixture.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcp_edge_session::auth::{AuthLayer, HttpClient, Identity, OAuthVerifier};
use mcp_edge_session::body::BoxError;
use mcp_edge_session::{McpContext, SessionLayer};
use serde_json::{json, Value};
use tower::{Layer, ServiceExt};

use common::{initialize_body, memory_fixture, request_body, LATEST, STATELESS};

const ISSUER: &str = "http://127.0.0.1:9000";
const RESOURCE: &str = "http://localhost/mcp";
const METADATA_URL: &str = "http://localhost/.well-known/oauth-protected-resource/mcp";
const COOLDOWN: Duration = Duration::from_millis(300);

const RS256_PEM: &[u8] = include_bytes!("keys/rs256.pem");
const RS256_PUBLIC_PEM: &[u8] = include_bytes!("keys/rs256.pub.pem");
const UNPUBLISHED_PEM: &[u8] = include_bytes!("keys/rs256-unpublished.pem");
const ES256_PEM: &[u8] = include_bytes!("keys/es256.pem");

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Ok,
    Down,
    Junk,
    Hang,
}

/// The authorization server as the resource server sees it over HTTP.
struct Issuer {
    keys: Mutex<Vec<Value>>,
    jwks_mode: Mutex<Mode>,
    /// Serve only OpenID Connect discovery, no RFC 8414 document.
    oidc_only: bool,
    opaque: Mutex<HashMap<String, Value>>,
    jwks_fetches: AtomicUsize,
    introspections: AtomicUsize,
}

impl Issuer {
    fn new(oidc_only: bool) -> Arc<Self> {
        let issuer = Arc::new(Self {
            keys: Mutex::new(Vec::new()),
            jwks_mode: Mutex::new(Mode::Ok),
            oidc_only,
            opaque: Mutex::new(HashMap::new()),
            jwks_fetches: AtomicUsize::new(0),
            introspections: AtomicUsize::new(0),
        });
        issuer.publish(RS256_PEM, Algorithm::RS256, "rs-1");
        issuer.publish(ES256_PEM, Algorithm::ES256, "es-1");
        issuer
    }

    fn publish(&self, pem: &[u8], alg: Algorithm, kid: &str) {
        let mut jwk = Jwk::from_encoding_key(&encoding_key(pem, alg), alg).unwrap();
        jwk.common.key_id = Some(kid.into());
        self.keys
            .lock()
            .unwrap()
            .push(serde_json::to_value(jwk).unwrap());
    }

    fn set_jwks_mode(&self, mode: Mode) {
        *self.jwks_mode.lock().unwrap() = mode;
    }

    fn metadata(&self) -> Value {
        json!({
            "issuer": ISSUER,
            "authorization_endpoint": format!("{ISSUER}/authorize"),
            "token_endpoint": format!("{ISSUER}/token"),
            "jwks_uri": format!("{ISSUER}/jwks"),
            "introspection_endpoint": format!("{ISSUER}/introspect"),
        })
    }
}

struct IssuerClient(Arc<Issuer>);

fn reply(status: u16, body: impl Into<Bytes>) -> Result<Response<Bytes>, BoxError> {
    Ok(Response::builder().status(status).body(body.into())?)
}

#[async_trait]
impl HttpClient for IssuerClient {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, BoxError> {
        let issuer = &self.0;
        match request.uri().path() {
            "/.well-known/oauth-authorization-server" if !issuer.oidc_only => {
                reply(200, issuer.metadata().to_string())
            }
            "/.well-known/openid-configuration" => reply(200, issuer.metadata().to_string()),
            "/jwks" => {
                issuer.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                let mode = *issuer.jwks_mode.lock().unwrap();
                match mode {
                    Mode::Ok => {
                        let keys = issuer.keys.lock().unwrap().clone();
                        reply(200, json!({ "keys": keys }).to_string())
                    }
                    Mode::Down => reply(503, "down"),
                    Mode::Junk => reply(200, "<html>not json</html>"),
                    Mode::Hang => std::future::pending().await,
                }
            }
            "/introspect" => {
                issuer.introspections.fetch_add(1, Ordering::SeqCst);
                assert_eq!(request.method(), http::Method::POST);
                assert!(request.headers()["authorization"]
                    .to_str()
                    .unwrap()
                    .starts_with("Basic "));
                let form: HashMap<String, String> = form_urlencoded::parse(request.body())
                    .into_owned()
                    .collect();
                let answer = issuer
                    .opaque
                    .lock()
                    .unwrap()
                    .get(&form["token"])
                    .cloned()
                    .unwrap_or(json!({ "active": false }));
                reply(200, answer.to_string())
            }
            _ => reply(404, "not found"),
        }
    }
}

fn encoding_key(pem: &[u8], alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem).unwrap(),
        _ => EncodingKey::from_rsa_pem(pem).unwrap(),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims of a token the server must accept, for `sub`.
fn claims(sub: &str) -> Value {
    json!({
        "iss": ISSUER, "sub": sub, "aud": RESOURCE, "client_id": "test-client",
        "scope": "mcp:tools other", "iat": now(), "exp": now() + 300,
        // Every token differs, so each is verified rather than found among verified ones.
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

fn sign(claims: &Value, pem: &[u8], alg: Algorithm, kid: &str) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &encoding_key(pem, alg)).unwrap()
}

fn token(sub: &str) -> String {
    sign(&claims(sub), RS256_PEM, Algorithm::RS256, "rs-1")
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn verifier(issuer: &Arc<Issuer>) -> OAuthVerifier {
    OAuthVerifier::new(ISSUER, RESOURCE, IssuerClient(issuer.clone()))
        .unwrap()
        .with_client_credentials("resource-server", "rs-secret")
        .with_key_refresh(COOLDOWN, Duration::from_secs(600))
        .with_fetch_timeout(Duration::from_millis(300))
}

fn auth(issuer: &Arc<Issuer>) -> AuthLayer {
    AuthLayer::new(RESOURCE, verifier(issuer))
        .unwrap()
        .with_authorization_server(ISSUER)
        .with_required_scopes(["mcp:tools"])
}

type Server = mcp_edge_session::auth::AuthService<common::Fixture>;

fn server(issuer: &Arc<Issuer>) -> Server {
    auth(issuer).layer(memory_fixture())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn post(authorization: Option<&str>, session: Option<&str>, body: Value) -> Request<Full<Bytes>> {
    let mut request = common::post(session);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn stateless(authorization: Option<&str>) -> Request<Full<Bytes>> {
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "t", "version": "1" },
    });
    let mut request = Request::post("http://localhost/mcp")
        .header("host", "localhost:8080")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", STATELESS)
        .header("mcp-method", "tools/list");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let body = request_body(1, "tools/list", json!({ "_meta": meta }));
    request
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn with_authorization(mut request: Request<Full<Bytes>>, value: &str) -> Request<Full<Bytes>> {
    request
        .headers_mut()
        .insert("authorization", value.parse().unwrap());
    request
}

async fn send<S, B>(
    service: &S,
    request: Request<Full<Bytes>>,
) -> (StatusCode, http::HeaderMap, Bytes)
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let response = service.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    // SSE answers of the fixture end after the answer; a bounded read keeps a hang visible.
    let bytes = tokio::time::timeout(Duration::from_secs(10), body.collect())
        .await
        .expect("body within 10 s")
        .unwrap()
        .to_bytes();
    (parts.status, parts.headers, bytes)
}

fn challenge(headers: &http::HeaderMap) -> String {
    headers
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// A refusal as the spec asks: status, challenge naming the metadata, JSON-RPC error body.
fn assert_refused(
    (status, headers, body): &(StatusCode, http::HeaderMap, Bytes),
    expected: StatusCode,
    error: Option<&str>,
    case: &str,
) {
    assert_eq!(*status, expected, "{case}: {body:?}");
    let challenge = challenge(headers);
    assert!(challenge.starts_with("Bearer "), "{case}: {challenge}");
    assert!(
        challenge.contains(&format!("resource_metadata=\"{METADATA_URL}\"")),
        "{case}: {challenge}"
    );
    assert!(
        challenge.contains("scope=\"mcp:tools\""),
        "{case}: {challenge}"
    );
    match error {
        Some(error) => assert!(
            challenge.contains(&format!("error=\"{error}\"")),
            "{case}: {challenge}"
        ),
        None => assert!(!challenge.contains("error="), "{case}: {challenge}"),
    }
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["jsonrpc"], "2.0", "{case}");
    assert!(body["error"]["code"].is_i64(), "{case}");
    assert!(body["error"]["message"].is_string(), "{case}");
}

async fn initialize<S, B>(service: &S, token: &str) -> String
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let auth = bearer(token);
    let response = service
        .clone()
        .oneshot(post(Some(&auth), None, initialize_body(LATEST)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let (status, ..) = send(service, post(Some(&auth), Some(&session), initialized)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    session
}

/// An `initialize` with `token`: the whole answer.
async fn initialize_with<S, B>(service: &S, token: &str) -> (StatusCode, http::HeaderMap, Bytes)
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    send(
        service,
        post(Some(&bearer(token)), None, initialize_body(LATEST)),
    )
    .await
}

fn ping(id: u64) -> Value {
    request_body(id, "ping", json!({}))
}

#[tokio::test]
async fn metadata_is_served_at_the_inserted_and_the_root_path() {
    let issuer = Issuer::new(false);
    let service = server(&issuer);
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let request = Request::get(format!("http://localhost{path}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let (status, headers, body) = send(&service, request).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["access-control-allow-origin"], "*");
        let document: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            document,
            json!({
                "resource": RESOURCE,
                "authorization_servers": [ISSUER],
                "scopes_supported": ["mcp:tools"],
                "bearer_methods_supported": ["header"],
            }),
            "{path}"
        );
    }
    // Nothing needed the issuer yet.
    assert_eq!(issuer.jwks_fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn every_request_without_a_token_is_challenged_in_both_eras() {
    let issuer = Issuer::new(false);
    let service = server(&issuer);
    let session = initialize(&service, &token("alice")).await;
    let requests = [
        ("initialize", post(None, None, initialize_body(LATEST))),
        ("POST on a session", post(None, Some(&session), ping(1))),
        ("stateless", stateless(None)),
        ("GET", strip(common::get_request(&session, None))),
        ("DELETE", strip(common::delete_request(&session))),
    ];
    for (case, request) in requests {
        let answer = send(&service, request).await;
        assert_refused(&answer, StatusCode::UNAUTHORIZED, None, case);
    }
    // The session survived the refused DELETE.
    let (status, ..) = send(
        &service,
        post(Some(&bearer(&token("alice"))), Some(&session), ping(2)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

fn strip(mut request: Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    request.headers_mut().remove("authorization");
    request
}

#[tokio::test]
async fn refused_tokens() {
    let issuer = Issuer::new(false);
    let service = server(&issuer);
    let good = claims("mallory");
    let public_pem_hmac = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rs-1".into());
        jsonwebtoken::encode(
            &header,
            &good,
            &EncodingKey::from_secret(RS256_PUBLIC_PEM).unwrap(),
        )
        .unwrap()
    };
    let public_jwk_hmac = {
        let jwk = issuer.keys.lock().unwrap()[0].to_string();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rs-1".into());
        jsonwebtoken::encode(
            &header,
            &good,
            &EncodingKey::from_secret(jwk.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let alg_none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT","kid":"rs-1"}"#),
        b64(good.to_string().as_bytes())
    );
    let not_json_payload = {
        let valid = token("mallory");
        let mut parts: Vec<&str> = valid.split('.').collect();
        let payload = b64(b"not json");
        parts[1] = &payload;
        parts.join(".")
    };
    let sign_rs = |claims: &Value| sign(claims, RS256_PEM, Algorithm::RS256, "rs-1");
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            sign_rs(&with(good.clone(), json!({"exp": now() - 120}))),
        ),
        (
            "not yet valid",
            sign_rs(&with(good.clone(), json!({"nbf": now() + 120}))),
        ),
        (
            "wrong audience",
            sign_rs(&with(
                good.clone(),
                json!({"aud": "https://other.example/mcp"}),
            )),
        ),
        (
            "no audience",
            sign_rs(&with(good.clone(), json!({"aud": null}))),
        ),
        (
            "wrong issuer",
            sign_rs(&with(good.clone(), json!({"iss": "http://127.0.0.1:9001"}))),
        ),
        (
            "no expiry",
            sign_rs(&with(good.clone(), json!({"exp": null}))),
        ),
        (
            "unpublished key",
            sign(&good, UNPUBLISHED_PEM, Algorithm::RS256, "rs-9"),
        ),
        (
            "forged under a published kid",
            sign(&good, UNPUBLISHED_PEM, Algorithm::RS256, "rs-1"),
        ),
        (
            "ES256 key id with an RS256 signature",
            sign(&good, RS256_PEM, Algorithm::RS256, "es-1"),
        ),
        ("alg none", alg_none),
        ("HS256 keyed with the public PEM", public_pem_hmac),
        ("HS256 keyed with the public JWK", public_jwk_hmac),
        ("payload not JSON", not_json_payload),
        ("garbage", "abc".into()),
    ];
    for (case, token) in cases {
        let answer = initialize_with(&service, &token).await;
        assert_refused(
            &answer,
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            case,
        );
    }
    let malformed = [
        ("empty bearer", "Bearer".to_owned()),
        ("bearer with spaces", "Bearer   ".to_owned()),
        ("two tokens", "Bearer a b".to_owned()),
        ("oversized", bearer(&"a".repeat(20_000))),
    ];
    for (case, header) in malformed {
        let answer = send(&service, post(Some(&header), None, initialize_body(LATEST))).await;
        assert_refused(
            &answer,
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            case,
        );
    }
    let basic = send(
        &service,
        post(Some("Basic dXNlcjpwdw=="), None, initialize_body(LATEST)),
    )
    .await;
    assert_refused(&basic, StatusCode::UNAUTHORIZED, None, "Basic scheme");
    let mut in_query = post(None, None, initialize_body(LATEST));
    *in_query.uri_mut() = format!("http://localhost/mcp?access_token={}", token("alice"))
        .parse()
        .unwrap();
    let answer = send(&service, in_query).await;
    assert_refused(
        &answer,
        StatusCode::UNAUTHORIZED,
        Some("invalid_request"),
        "query string",
    );
}

#[tokio::test]
async fn valid_tokens_in_any_scheme_case_with_rs256_and_es256() {
    let issuer = Issuer::new(false);
    let service = server(&issuer);
    let es = sign(&claims("alice"), ES256_PEM, Algorithm::ES256, "es-1");
    let headers = [
        format!("Bearer {}", token("alice")),
        format!("bearer {}", token("alice")),
        format!("BEARER {es}"),
    ];
    for header in headers {
        let (status, _, body) =
            send(&service, post(Some(&header), None, initialize_body(LATEST))).await;
        assert_eq!(status, StatusCode::OK, "{header}: {body:?}");
    }
    let (status, _, body) = send(&service, stateless(Some(&bearer(&token("alice"))))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("test_simple_text"));
    // One key set fetch served them all.
    assert_eq!(issuer.jwks_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_token_without_the_required_scope_is_forbidden() {
    let issuer = Issuer::new(false);
    let service = server(&issuer);
    let narrow = sign(
        &with(claims("alice"), json!({"scope": "other"})),
        RS256_PEM,
        Algorithm::RS256,
        "rs-1",
    );
    let answer = initialize_with(&service, &narrow).await;
    assert_refused(
        &answer,
        StatusCode::FORBIDDEN,
        Some("insufficient_scope"),
        "missing scope",
    );
}

#[tokio::test]
async fn the_service_gets_the_identity_and_never_the_token() {
    let issuer = Issuer::new(false);
    let seen = tower::service_fn(|request: Request<Full<Bytes>>| async move {
        let identity = request.extensions().get::<Identity>().cloned();
        let context = request.extensions().get::<McpContext>().cloned();
        let answer = json!({
            "subject": identity.as_ref().map(|i| i.subject.clone()),
            "scopes": identity.as_ref().map(|i| i.scopes.clone()),
            "client": identity.as_ref().and_then(|i| i.client_id.clone()),
            "claim_iss": identity.as_ref().and_then(|i| i.claims.get("iss").cloned()),
            "principal": context.and_then(|c| c.principal),
            "authorization": request.headers().contains_key("authorization"),
        });
        Ok::<_, std::convert::Infallible>(
            Response::builder()
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(
                    json!({"jsonrpc": "2.0", "id": 1, "result": answer}).to_string(),
                )))
                .unwrap(),
        )
    });
    let service = auth(&issuer).layer(SessionLayer::memory().layer(seen));
    let (status, _, body) = send(&service, stateless(Some(&bearer(&token("alice"))))).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["result"],
        json!({
            "subject": "alice", "scopes": ["mcp:tools", "other"], "client": "test-client",
            "claim_iss": ISSUER, "principal": "alice", "authorization": false,
        })
    );
}

#[tokio::test]
async fn a_session_belongs_to_its_subject() {
    let issuer = Issuer::new(false);
    let service = server(&issuer);
    let alice = bearer(&token("alice"));
    let bob = bearer(&token("bob"));
    let session = initialize(&service, &token("alice")).await;
    let (status, ..) = send(&service, post(Some(&bob), Some(&session), ping(1))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "bob's POST");
    let get = with_authorization(common::get_request(&session, None), &bob);
    let (status, ..) = send(&service, get).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "bob's GET");
    let delete = with_authorization(common::delete_request(&session), &bob);
    let (status, ..) = send(&service, delete).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "bob's DELETE");
    let (status, ..) = send(&service, post(Some(&alice), Some(&session), ping(2))).await;
    assert_eq!(status, StatusCode::OK, "alice goes on");
    let delete = with_authorization(common::delete_request(&session), &alice);
    let (status, ..) = send(&service, delete).await;
    assert!(status.is_success(), "alice ends her session: {status}");
}

#[tokio::test]
async fn a_session_outlives_its_expired_token() {
    let issuer = Issuer::new(false);
    let service = server(&issuer);
    // Past its expiry but within the 10 s leeway for about two more seconds.
    let short = sign(
        &with(claims("alice"), json!({"exp": now() - 8})),
        RS256_PEM,
        Algorithm::RS256,
        "rs-1",
    );
    let session = initialize(&service, &short).await;
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let answer = send(
        &service,
        post(Some(&bearer(&short)), Some(&session), ping(1)),
    )
    .await;
    assert_refused(
        &answer,
        StatusCode::UNAUTHORIZED,
        Some("invalid_token"),
        "expired mid-session",
    );
    let (status, ..) = send(
        &service,
        post(Some(&bearer(&token("alice"))), Some(&session), ping(2)),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a fresh token continues the session"
    );
}

#[tokio::test]
async fn a_rotated_key_is_taken_after_the_cool_down_and_unknown_ids_cannot_flood_the_issuer() {
    let issuer = Issuer::new(false);
    let service = server(&issuer);
    let (status, ..) = initialize_with(&service, &token("alice")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(issuer.jwks_fetches.load(Ordering::SeqCst), 1);

    // A flood of made-up key ids within one cool-down: at most one more fetch.
    let forged: Vec<_> = (0..50)
        .map(|i| {
            sign(
                &claims("mallory"),
                UNPUBLISHED_PEM,
                Algorithm::RS256,
                &format!("x-{i}"),
            )
        })
        .collect();
    for token in &forged {
        let answer = initialize_with(&service, token).await;
        assert_refused(
            &answer,
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            "flood",
        );
    }
    assert!(issuer.jwks_fetches.load(Ordering::SeqCst) <= 2);

    // The issuer rotates: the new key is accepted once the cool-down has passed.
    issuer.publish(UNPUBLISHED_PEM, Algorithm::RS256, "rs-2");
    let rotated = sign(&claims("alice"), UNPUBLISHED_PEM, Algorithm::RS256, "rs-2");
    let started = Instant::now();
    loop {
        let (status, ..) = initialize_with(&service, &rotated).await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(started.elapsed() < COOLDOWN * 4, "rotated key not taken");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The old key still works.
    let (status, ..) = initialize_with(&service, &token("alice")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_issuer_that_is_down_junk_or_slow_is_503_and_cached_keys_keep_working() {
    for mode in [Mode::Down, Mode::Junk, Mode::Hang] {
        let issuer = Issuer::new(false);
        let service = server(&issuer);
        let (status, ..) = initialize_with(&service, &token("alice")).await;
        assert_eq!(status, StatusCode::OK);
        tokio::time::sleep(COOLDOWN).await;
        issuer.set_jwks_mode(mode);
        issuer.publish(UNPUBLISHED_PEM, Algorithm::RS256, "rs-2");
        let rotated = sign(&claims("alice"), UNPUBLISHED_PEM, Algorithm::RS256, "rs-2");
        let started = Instant::now();
        let (status, headers, body) = initialize_with(&service, &rotated).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{mode:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{mode:?}: bounded wait"
        );
        assert!(headers.contains_key("retry-after"));
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], -32003, "{mode:?}");
        // Within the cool-down the failure is remembered: 503 at once, no new fetch.
        let fetches = issuer.jwks_fetches.load(Ordering::SeqCst);
        let (status, ..) = initialize_with(&service, &rotated).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{mode:?}");
        assert_eq!(issuer.jwks_fetches.load(Ordering::SeqCst), fetches);
        let (status, ..) = initialize_with(&service, &token("alice")).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{mode:?}: a cached key keeps working"
        );
        // Back up: the new key is taken.
        issuer.set_jwks_mode(Mode::Ok);
        tokio::time::sleep(COOLDOWN).await;
        let (status, ..) = initialize_with(&service, &rotated).await;
        assert_eq!(status, StatusCode::OK, "{mode:?}: recovered");
    }
}

#[tokio::test]
async fn opaque_tokens_are_introspected_and_cached() {
    let issuer = Issuer::new(false);
    let service = server(&issuer);
    issuer.opaque.lock().unwrap().insert(
        "opaque-alice".into(),
        json!({ "active": true, "sub": "alice", "aud": RESOURCE, "iss": ISSUER,
                "scope": "mcp:tools", "exp": now() + 300, "client_id": "c" }),
    );
    issuer.opaque.lock().unwrap().insert(
        "opaque-elsewhere".into(),
        json!({ "active": true, "sub": "alice", "aud": "https://other.example",
                "scope": "mcp:tools", "exp": now() + 300 }),
    );
    for _ in 0..3 {
        let (status, ..) = send(
            &service,
            post(Some("Bearer opaque-alice"), None, initialize_body(LATEST)),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(issuer.introspections.load(Ordering::SeqCst), 1, "cached");
    for (case, token) in [
        ("unknown", "opaque-nobody"),
        ("another audience", "opaque-elsewhere"),
    ] {
        let answer = initialize_with(&service, token).await;
        assert_refused(
            &answer,
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            case,
        );
    }
}

#[tokio::test]
async fn an_issuer_with_only_openid_discovery_is_found() {
    let issuer = Issuer::new(true);
    let service = server(&issuer);
    let (status, ..) = initialize_with(&service, &token("alice")).await;
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn insecure_issuers_and_resources_are_refused() {
    let issuer = Issuer::new(false);
    for url in ["http://auth.example.com", "ftp://127.0.0.1", "not a url"] {
        assert!(
            OAuthVerifier::new(url, RESOURCE, IssuerClient(issuer.clone())).is_err(),
            "{url}"
        );
    }
    assert!(AuthLayer::new("http://mcp.example.com/mcp", verifier(&issuer)).is_err());
    assert!(AuthLayer::new("https://mcp.example.com/mcp", verifier(&issuer)).is_ok());
}
