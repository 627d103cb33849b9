//! [`SessionLayer`]: configuration and the builder that wraps a service in
//! [`SessionService`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tower_layer::Layer;

use crate::hub::{MemoryHub, StreamHub};
use crate::notify::Notifier;
use crate::post_stream::Detached;
use crate::security::{HostPolicy, OriginPolicy};
use crate::service::SessionService;
use crate::store::{MemoryStore, SessionStore};

/// Extracts the authenticated principal (user id, API key id, …) from a request.
pub type PrincipalFn = dyn Fn(&http::request::Parts) -> Option<String> + Send + Sync;

/// How many POST responses may go on in the background at once unless told otherwise.
const DEFAULT_MAX_DETACHED: usize = 1_000;

/// Runs a background task (`tokio::spawn`, `wasm_bindgen_futures::spawn_local`, …).
pub type Executor = dyn Fn(BoxFuture<'static, ()>) + Send + Sync;

/// Everything a [`SessionService`] needs, shared by all its clones.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) hub: Arc<dyn StreamHub>,
    pub(crate) notifier: Notifier,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_body_bytes: usize,
    pub(crate) max_subscriptions: usize,
    pub(crate) hosts: HostPolicy,
    pub(crate) origins: OriginPolicy,
    pub(crate) principal: Option<Arc<PrincipalFn>>,
    pub(crate) keep_alive: Duration,
    pub(crate) retry: Duration,
    pub(crate) executor: Option<Arc<Executor>>,
    pub(crate) detached: Arc<Detached>,
}

impl Config {
    /// The principal a request speaks for: what [`SessionLayer::with_principal`] extracts, or
    /// else the subject of the token an auth layer verified.
    pub(crate) fn principal_of(&self, parts: &http::request::Parts) -> Option<String> {
        if let Some(extract) = &self.principal {
            return extract(parts);
        }
        #[cfg(feature = "auth")]
        if let Some(identity) = parts.extensions.get::<crate::auth::Identity>() {
            return Some(identity.subject.clone());
        }
        None
    }

    pub(crate) fn idle_timeout_ms(&self) -> u64 {
        u64::try_from(self.idle_timeout.as_millis()).unwrap_or(u64::MAX)
    }
}

/// A [`tower_layer::Layer`] that gives an MCP Streamable-HTTP service sessions and streams
/// kept in pluggable backends.
///
/// ```
/// use mcp_edge_session::SessionLayer;
/// use std::time::Duration;
///
/// let layer = SessionLayer::memory()
///     .with_idle_timeout(Duration::from_secs(600))
///     .with_allowed_hosts(["mcp.example.com"]);
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct SessionLayer {
    config: Config,
}

impl SessionLayer {
    /// A layer over the given backends.
    pub fn new(store: impl SessionStore, hub: impl StreamHub) -> Self {
        Self::from_shared(Arc::new(store), Arc::new(hub))
    }

    /// A layer over shared backends.
    pub fn from_shared(store: Arc<dyn SessionStore>, hub: Arc<dyn StreamHub>) -> Self {
        Self {
            config: Config {
                notifier: Notifier::new(hub.clone()),
                store,
                hub,
                idle_timeout: Duration::from_secs(60 * 60),
                max_body_bytes: 4 * 1024 * 1024,
                max_subscriptions: 64,
                hosts: HostPolicy::Loopback,
                origins: OriginPolicy::SameAsHosts,
                principal: None,
                keep_alive: Duration::from_secs(15),
                retry: Duration::from_secs(1),
                executor: None,
                detached: Detached::new(DEFAULT_MAX_DETACHED),
            },
        }
    }

    /// A layer over in-process backends ([`MemoryStore`], [`MemoryHub`]).
    pub fn memory() -> Self {
        Self::new(MemoryStore::new(), MemoryHub::new())
    }

    /// A [`Notifier`] publishing through this layer's hub, for code outside requests.
    pub fn notifier(&self) -> Notifier {
        self.config.notifier.clone()
    }

    /// How long a legacy session lives without requests (default one hour). Stores with a
    /// minimum TTL (Workers KV: 60 s) round up.
    ///
    /// ```
    /// # use mcp_edge_session::SessionLayer;
    /// let layer = SessionLayer::memory().with_idle_timeout(std::time::Duration::from_secs(300));
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Largest accepted POST body (default 4 MiB); larger ones get 413.
    ///
    /// ```
    /// # use mcp_edge_session::SessionLayer;
    /// let layer = SessionLayer::memory().with_max_body_bytes(64 * 1024);
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_max_body_bytes(mut self, limit: usize) -> Self {
        self.config.max_body_bytes = limit;
        self
    }

    /// Most resource URIs one session may subscribe to (default 64); one more gets 400 with
    /// -32602.
    ///
    /// ```
    /// # use mcp_edge_session::SessionLayer;
    /// let layer = SessionLayer::memory().with_max_subscriptions(256);
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_max_subscriptions(mut self, limit: usize) -> Self {
        self.config.max_subscriptions = limit;
        self
    }

    /// Serves only these `Host` names (ports ignored) instead of the loopback default, and
    /// unless [`with_allowed_origins`](Self::with_allowed_origins) says otherwise, only
    /// `Origin`s on these hosts.
    ///
    /// ```
    /// # use mcp_edge_session::SessionLayer;
    /// let layer = SessionLayer::memory().with_allowed_hosts(["mcp.example.com"]);
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_allowed_hosts<I, H>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = H>,
        H: Into<String>,
    {
        self.config.hosts = HostPolicy::List(hosts.into_iter().map(Into::into).collect());
        self
    }

    /// Accepts every `Origin` in this list (`scheme://host[:port]`) and no other.
    ///
    /// ```
    /// # use mcp_edge_session::SessionLayer;
    /// let layer = SessionLayer::memory().with_allowed_origins(["https://app.example.com"]);
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_allowed_origins<I, O>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: Into<String>,
    {
        self.config.origins = OriginPolicy::List(origins.into_iter().map(Into::into).collect());
        self
    }

    /// Turns DNS-rebinding protection off (no `Host` or `Origin` check), for a server that
    /// sits behind a proxy doing its own checks.
    ///
    /// ```
    /// # use mcp_edge_session::SessionLayer;
    /// let layer = SessionLayer::memory().without_dns_rebinding_protection();
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn without_dns_rebinding_protection(mut self) -> Self {
        self.config.hosts = HostPolicy::Any;
        self.config.origins = OriginPolicy::Any;
        self
    }

    /// Binds sessions to the principal `extract` finds in the request (e.g. from a header set
    /// by an authentication layer). A request from another principal gets 404, as if the
    /// session did not exist. A session initialized without a principal is bound to none and
    /// open to every caller: put authentication in front if sessions must be private.
    ///
    /// Without it, sessions are bound to the subject of the token that the `auth` feature's
    /// `AuthLayer` verified, when one is in front.
    ///
    /// ```
    /// # use mcp_edge_session::SessionLayer;
    /// let layer = SessionLayer::memory().with_principal(|parts| {
    ///     parts.headers.get("x-user").and_then(|v| v.to_str().ok()).map(str::to_owned)
    /// });
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_principal<F>(mut self, extract: F) -> Self
    where
        F: Fn(&http::request::Parts) -> Option<String> + Send + Sync + 'static,
    {
        self.config.principal = Some(Arc::new(extract));
        self
    }

    /// Interval of keep-alive comments on idle SSE streams (default 15 s; Cloudflare cuts idle
    /// connections after about 100 s).
    ///
    /// ```
    /// # use mcp_edge_session::SessionLayer;
    /// let layer = SessionLayer::memory().with_keep_alive(std::time::Duration::from_secs(30));
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_keep_alive(mut self, interval: Duration) -> Self {
        self.config.keep_alive = interval;
        self
    }

    /// Reconnection delay announced in SSE `retry:` fields (default 1 s).
    ///
    /// ```
    /// # use mcp_edge_session::SessionLayer;
    /// let layer = SessionLayer::memory().with_retry(std::time::Duration::from_millis(500));
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_retry(mut self, delay: Duration) -> Self {
        self.config.retry = delay;
        self
    }

    /// Lets POST response streams outlive their connection: when a client disconnects (or a
    /// handler closes the stream for polling), the rest of the response is produced in a task
    /// spawned here and kept in the hub for the client's resumption. Without an executor, a
    /// closed POST stream cancels the rest of its response.
    ///
    /// ```
    /// # use mcp_edge_session::SessionLayer;
    /// let layer = SessionLayer::memory().with_executor(|task| {
    ///     # let _ = task; /*
    ///     tokio::spawn(task);
    ///     # */
    /// });
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn with_executor<F>(mut self, spawn: F) -> Self
    where
        F: Fn(BoxFuture<'static, ()>) + Send + Sync + 'static,
    {
        self.config.executor = Some(Arc::new(spawn));
        self
    }

    /// How many POST responses may go on in the background at once after their clients left
    /// (default 1,000; see [`with_executor`](Self::with_executor)). Past it, a leaving
    /// client's request is cancelled; each detached response runs for at most ten minutes.
    #[must_use]
    pub fn with_max_detached_responses(mut self, limit: usize) -> Self {
        self.config.detached = Detached::new(limit);
        self
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, Arc::new(self.config.clone()))
    }
}

impl fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("idle_timeout", &self.config.idle_timeout)
            .field("max_body_bytes", &self.config.max_body_bytes)
            .field("hosts", &self.config.hosts)
            .field("origins", &self.config.origins)
            .field("principal_binding", &self.config.principal.is_some())
            .field("keep_alive", &self.config.keep_alive)
            .finish_non_exhaustive()
    }
}
