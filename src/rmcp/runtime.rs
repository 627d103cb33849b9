//! Where rmcp's tasks run. Natively: on the caller's tokio runtime, where rmcp spawns them.
//! In a Worker: on a `LocalSet` that the request's own future polls, with a driverless
//! current-thread runtime entered for the tasks rmcp spawns with `tokio::spawn` (its send
//! tasks, which finish at once over [`RequestTransport`](super::transport::RequestTransport)).

use std::task::Context;

use rmcp::model::InitializeRequestParams;
use rmcp::service::RoleServer;
use rmcp::ServerHandler;

use super::handler::Served;
use super::transport::RequestTransport;

/// Keeps one request's rmcp service running, and runs it where it needs running.
pub(crate) struct Runtime {
    #[cfg(target_arch = "wasm32")]
    local: tokio::task::LocalSet,
    // Dropping it cancels the serve loop and every handler still running.
    _service: RunningService,
}

#[cfg(not(target_arch = "wasm32"))]
type RunningService = Box<dyn std::any::Any + Send>;
#[cfg(target_arch = "wasm32")]
type RunningService = Box<dyn std::any::Any>;

impl Runtime {
    /// Starts serving `transport` with `handler`, as rmcp's HTTP service does for one
    /// request: no handshake, the client described by `peer`.
    pub(crate) fn start<H: ServerHandler>(
        handler: Served<H>,
        transport: RequestTransport,
        peer: InitializeRequestParams,
    ) -> Self {
        #[cfg(not(target_arch = "wasm32"))]
        {
            let service = rmcp::service::serve_directly::<RoleServer, _, _, _, _>(
                handler,
                transport,
                Some(peer),
            );
            Self {
                _service: Box::new(service),
            }
        }
        #[cfg(target_arch = "wasm32")]
        TOKIO.with(|tokio| {
            let _runtime = tokio.enter();
            let local = tokio::task::LocalSet::new();
            let service = {
                let _local = local.enter();
                rmcp::service::serve_directly::<RoleServer, _, _, _, _>(
                    handler,
                    transport,
                    Some(peer),
                )
            };
            Self {
                local,
                _service: Box::new(service),
            }
        })
    }

    /// Runs what is ready of rmcp's tasks (a Worker); wakes `cx` when more becomes ready.
    pub(crate) fn drive(&mut self, cx: &mut Context<'_>) {
        #[cfg(target_arch = "wasm32")]
        TOKIO.with(|tokio| {
            use std::future::Future;
            {
                let _runtime = tokio.enter();
                // Never completes: the serve loop waits for input until it is dropped.
                let _ = std::pin::Pin::new(&mut self.local).poll(cx);
            }
            // The send tasks rmcp spawned just now; a yield lets the scheduler run every
            // ready task once and return without parking.
            tokio.block_on(tokio::task::yield_now());
        });
        #[cfg(not(target_arch = "wasm32"))]
        let _ = cx;
    }
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    // One per isolate: it has no I/O or time driver and runs only when `drive` ticks it.
    static TOKIO: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime without drivers always builds");
}
