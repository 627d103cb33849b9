//! [`HttpClient`]: how the auth layer reaches the authorization server (metadata, keys,
//! introspection) — the Worker's `fetch` in a Worker, reqwest natively.

use async_trait::async_trait;
use bytes::Bytes;

use crate::body::BoxError;

/// Largest answer read from an authorization server: metadata and key sets are a few KiB.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Sends one HTTP request and reads the whole answer (at most [`MAX_RESPONSE_BYTES`]).
///
/// Implementations do not need their own timeout: the verifier bounds every call.
#[async_trait]
pub trait HttpClient: Send + Sync + 'static {
    /// Sends `request`; any HTTP status is an `Ok` answer.
    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, BoxError>;
}

/// The native client: reqwest with rustls and the platform's roots, no redirects (an
/// authorization server's endpoints are used exactly as published).
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Debug)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

#[cfg(not(target_arch = "wasm32"))]
impl ReqwestClient {
    /// A client with its own connection pool.
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { client })
    }

    /// Uses an existing reqwest client (its pool, proxy and TLS settings).
    pub fn from_client(client: reqwest::Client) -> Self {
        Self { client }
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[async_trait]
impl HttpClient for ReqwestClient {
    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, BoxError> {
        let request = reqwest::Request::try_from(request.map(reqwest::Body::from))?;
        let mut response = self.client.execute(request).await?;
        if response
            .content_length()
            .is_some_and(|len| len > MAX_RESPONSE_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut answer = http::Response::builder().status(response.status());
        if let Some(headers) = answer.headers_mut() {
            headers.extend(response.headers().clone());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(answer.body(Bytes::from(body))?)
    }
}

/// An answer past [`MAX_RESPONSE_BYTES`] (for the clients: reqwest natively, the Worker's
/// `fetch` with `cloudflare`).
#[cfg(any(not(target_arch = "wasm32"), feature = "cloudflare"))]
pub(crate) fn too_large() -> BoxError {
    format!("authorization server answer exceeds {MAX_RESPONSE_BYTES} bytes").into()
}

/// Sends `request` and parses a 200 answer as JSON, all within `timeout`.
pub(crate) async fn fetch_json<T: serde::de::DeserializeOwned>(
    http: &dyn HttpClient,
    request: http::Request<Bytes>,
    timeout: std::time::Duration,
) -> Result<T, BoxError> {
    let url = request.uri().to_string();
    let send = http.send(request);
    let delay = futures_timer::Delay::new(timeout);
    futures_util::pin_mut!(send, delay);
    let response = match futures_util::future::select(send, delay).await {
        futures_util::future::Either::Left((response, _)) => response?,
        futures_util::future::Either::Right(_) => {
            return Err(format!("{url}: no answer within {timeout:?}").into())
        }
    };
    if response.status() != http::StatusCode::OK {
        return Err(format!("{url}: HTTP {}", response.status()).into());
    }
    serde_json::from_slice(response.body()).map_err(|error| format!("{url}: {error}").into())
}

/// A GET asking for JSON.
pub(crate) fn get(url: &str) -> Result<http::Request<Bytes>, BoxError> {
    Ok(http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(Bytes::new())?)
}
