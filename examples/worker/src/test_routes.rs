//! Routes for the end-to-end harness, served only when the `MCP_TEST_ROUTES` variable is "1"
//! (the harness sets it; `wrangler dev` and deployments do not).

use http_body_util::BodyExt;
use mcp_edge_session::cloudflare::{Bindings, DurableObjectHub, KvSessionStore};
use mcp_edge_session::{contract, SessionId};
use worker::{Env, HttpRequest};

fn json(status: u16, value: &serde_json::Value) -> worker::Result<crate::Reply> {
    Ok(http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(
            http_body_util::Full::new(bytes::Bytes::from(value.to_string()))
                .map_err(|never| match never {})
                .boxed_unsync(),
        )?)
}

fn hub(env: &Env) -> worker::Result<DurableObjectHub> {
    let bindings = Bindings::default();
    Ok(DurableObjectHub::new(
        env.durable_object(&bindings.durable_object)?,
        bindings.shards,
    ))
}

pub(crate) async fn serve(
    route: &str,
    request: &HttpRequest,
    env: &Env,
) -> worker::Result<crate::Reply> {
    let enabled = env
        .var("MCP_TEST_ROUTES")
        .is_ok_and(|v| v.to_string() == "1");
    if !enabled {
        return json(404, &serde_json::json!({ "error": "not found" }));
    }
    match route {
        // The backend contract, run against Workers KV and the hub Durable Object. It writes
        // keys back to back, so it uses the namespace without the simulated write limit
        // (`MCP_CONTRACT_KV`) when the test server binds one.
        "contract" => {
            let kv = env
                .kv("MCP_CONTRACT_KV")
                .or_else(|_| env.kv(&Bindings::default().kv))?;
            let store = KvSessionStore::new(kv);
            let store_result = contract::check_store(&store).await;
            let hub_result = contract::check_hub(&hub(env)?).await;
            let outcome = |r: Result<(), contract::ContractFailure>| {
                r.map_or_else(|e| e.to_string(), |()| "ok".into())
            };
            let passed = store_result.is_ok() && hub_result.is_ok();
            json(
                if passed { 200 } else { 500 },
                &serde_json::json!({ "store": outcome(store_result), "hub": outcome(hub_result) }),
            )
        }
        // Which hub instance serves a session now (changes when the object was evicted).
        // Which hub instance serves a session now (changes when the object was evicted), or
        // with `sweep`, run that shard's storage sweep now.
        "shard" | "sweep" => {
            let session = request
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("session="))
                .and_then(|s| s.parse::<SessionId>().ok());
            let Some(session) = session else {
                return json(
                    400,
                    &serde_json::json!({ "error": "session=<id> required" }),
                );
            };
            let hub = hub(env)?;
            let shard = hub.shard_of_session(&session);
            let outcome = if route == "sweep" {
                hub.sweep_shard(shard).await.map(serde_json::Value::from)
            } else {
                hub.shard_status(shard).await
            };
            match outcome {
                Ok(status) => json(
                    200,
                    &serde_json::json!({ "shard": shard, "status": status }),
                ),
                Err(error) => json(503, &serde_json::json!({ "error": error.to_string() })),
            }
        }
        // Checks `token`'s signature `n` times with jsonwebtoken (RustCrypto) against `jwk`:
        // what one signature check costs in a Worker (tests/auth/crypto-bench.mjs compares it
        // with WebCrypto). Query: n, token, jwk (JSON), all URL-encoded.
        "verify" => verify_repeatedly(request),
        // Writes one value to a KV binding (query: binding, key, value, ttl seconds): how the
        // tests put records where another Worker (workers-oauth-provider) would have.
        "kv-put" => {
            let query = query_of(request);
            let (Some(binding), Some(key), Some(value)) =
                (query.get("binding"), query.get("key"), query.get("value"))
            else {
                return json(
                    400,
                    &serde_json::json!({ "error": "binding, key and value required" }),
                );
            };
            let ttl = query
                .get("ttl")
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(300);
            env.kv(binding)?
                .put(key, value)?
                .expiration_ttl(ttl)
                .execute()
                .await?;
            json(200, &serde_json::json!({ "ok": true }))
        }
        // Backend operations this isolate performed so far.
        "stats" => json(
            200,
            &serde_json::to_value(mcp_edge_session::cloudflare::backend_stats())?,
        ),
        _ => json(404, &serde_json::json!({ "error": "no such test route" })),
    }
}

fn query_of(request: &HttpRequest) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn verify_repeatedly(request: &HttpRequest) -> worker::Result<crate::Reply> {
    let query = query_of(request);
    let (Some(n), Some(token), Some(jwk)) = (
        query.get("n").and_then(|n| n.parse::<usize>().ok()),
        query.get("token"),
        query
            .get("jwk")
            .and_then(|j| serde_json::from_str::<jsonwebtoken::jwk::Jwk>(j).ok()),
    ) else {
        return json(
            400,
            &serde_json::json!({ "error": "n, token and jwk required" }),
        );
    };
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk)
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| worker::Error::RustError(e.to_string()))?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.validate_aud = false;
    validation.set_required_spec_claims::<&str>(&[]);
    let verified = (0..n)
        .filter(|_| jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).is_ok())
        .count();
    json(200, &serde_json::json!({ "verified": verified }))
}
