//! Counters of the backend operations this isolate performed, for measuring what a request
//! costs (KV reads and writes, requests to hub objects). Isolates are single-threaded, so the
//! counts are exact for one isolate.

use std::sync::atomic::{AtomicU64, Ordering};

static KV_READS: AtomicU64 = AtomicU64::new(0);
static KV_WRITES: AtomicU64 = AtomicU64::new(0);
static HUB_REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Backend operations since this isolate started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct BackendStats {
    /// Workers KV `get`s.
    pub kv_reads: u64,
    /// Workers KV `put`s and `delete`s.
    pub kv_writes: u64,
    /// Requests to hub Durable Objects (RPCs and WebSocket connects).
    pub hub_requests: u64,
}

/// The counts so far.
pub fn backend_stats() -> BackendStats {
    BackendStats {
        kv_reads: KV_READS.load(Ordering::Relaxed),
        kv_writes: KV_WRITES.load(Ordering::Relaxed),
        hub_requests: HUB_REQUESTS.load(Ordering::Relaxed),
    }
}

pub(crate) fn kv_read() {
    KV_READS.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn kv_write() {
    KV_WRITES.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn hub_request() {
    HUB_REQUESTS.fetch_add(1, Ordering::Relaxed);
}
