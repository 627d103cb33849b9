//! [`WorkerFetch`]: the auth layer's [`HttpClient`] in a Worker, over the runtime's `fetch`.

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use worker::send::SendFuture;
use worker::{Fetch, Headers, Method, Request, RequestInit};

use crate::auth::{HttpClient, MAX_RESPONSE_BYTES};
use crate::body::BoxError;

/// Reaches the authorization server with the Worker's `fetch` (subrequests, no redirects
/// followed).
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkerFetch;

#[async_trait]
impl HttpClient for WorkerFetch {
    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>, BoxError> {
        let (parts, body) = request.into_parts();
        let url = parts.uri.to_string();
        let method = Method::from(parts.method.as_str().to_owned());
        let mut pairs = Vec::new();
        for (name, value) in &parts.headers {
            pairs.push((name.as_str().to_owned(), value.to_str()?.to_owned()));
        }
        SendFuture::new(async move {
            let headers = Headers::new();
            for (name, value) in &pairs {
                headers.set(name, value)?;
            }
            let mut init = RequestInit::new();
            init.with_method(method)
                .with_headers(headers)
                .with_redirect(worker::RequestRedirect::Manual);
            if !body.is_empty() {
                init.with_body(Some(js_sys::Uint8Array::from(body.as_ref()).into()));
            }
            let request = Request::new_with_init(&url, &init)?;
            let mut response = Fetch::Request(request).send().await?;
            let mut answer = http::Response::builder().status(response.status_code());
            for (name, value) in response.headers().entries() {
                answer = answer.header(name, value);
            }
            let mut bytes = Vec::new();
            let mut stream = response.stream()?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(crate::auth::too_large_answer());
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(answer.body(Bytes::from(bytes))?)
        })
        .await
    }
}
