//! [`Refreshing`]: a fetched value (an issuer's metadata, its key set) kept per process or
//! isolate, fetched again by one caller at a time and at most once per cool-down, so a flood of
//! requests (unknown key ids, say) cannot become a flood of fetches.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::lock::Mutex;

use crate::body::BoxError;
use crate::context::now_ms;

/// A value and when it was fetched.
#[derive(Debug)]
pub(crate) struct Fetched<T> {
    pub(crate) value: T,
    fetched_at_ms: u64,
}

/// Why [`Refreshing::refresh`] brought nothing new.
#[derive(Debug)]
pub(crate) enum NotRefreshed {
    /// The last fetch was less than a cool-down ago; `failed` tells whether it failed.
    CoolingDown { failed: bool },
    /// This fetch failed.
    Failed(BoxError),
}

#[derive(Debug, Default)]
struct Attempt {
    at_ms: Option<u64>,
    failed: bool,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Refreshing<T> {
    current: RwLock<Option<Arc<Fetched<T>>>>,
    attempt: Mutex<Attempt>,
    cooldown_ms: u64,
    max_age_ms: u64,
}

impl<T> Refreshing<T> {
    pub(crate) fn new(cooldown: Duration, max_age: Duration) -> Self {
        Self {
            current: RwLock::new(None),
            attempt: Mutex::new(Attempt::default()),
            cooldown_ms: millis(cooldown),
            max_age_ms: millis(max_age),
        }
    }

    /// The value fetched last, if any.
    pub(crate) fn current(&self) -> Option<Arc<Fetched<T>>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether `fetched` is older than the maximum age.
    pub(crate) fn is_stale(&self, fetched: &Fetched<T>) -> bool {
        now_ms().saturating_sub(fetched.fetched_at_ms) >= self.max_age_ms
    }

    /// Fetches the value again, unless another caller did since `seen` was read (then that
    /// value), or the last attempt was less than a cool-down ago. Callers wait for a fetch in
    /// flight rather than starting their own.
    pub(crate) async fn refresh<F, Fut>(
        &self,
        seen: Option<&Arc<Fetched<T>>>,
        fetch: F,
    ) -> Result<Arc<Fetched<T>>, NotRefreshed>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, BoxError>>,
    {
        let attempt = self.attempt.lock().await;
        self.refresh_locked(attempt, seen, fetch).await
    }

    /// As [`refresh`](Self::refresh), but gives up at once when a fetch is in flight.
    pub(crate) async fn try_refresh<F, Fut>(
        &self,
        seen: Option<&Arc<Fetched<T>>>,
        fetch: F,
    ) -> Option<Result<Arc<Fetched<T>>, NotRefreshed>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, BoxError>>,
    {
        let attempt = self.attempt.try_lock()?;
        Some(self.refresh_locked(attempt, seen, fetch).await)
    }

    async fn refresh_locked<F, Fut>(
        &self,
        mut attempt: futures_util::lock::MutexGuard<'_, Attempt>,
        seen: Option<&Arc<Fetched<T>>>,
        fetch: F,
    ) -> Result<Arc<Fetched<T>>, NotRefreshed>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, BoxError>>,
    {
        let current = self.current();
        let changed = match (&current, seen) {
            (Some(now), Some(seen)) => !Arc::ptr_eq(now, seen),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if changed {
            return Ok(current.expect("changed implies a value"));
        }
        let now = now_ms();
        if attempt
            .at_ms
            .is_some_and(|at| now.saturating_sub(at) < self.cooldown_ms)
        {
            return Err(NotRefreshed::CoolingDown {
                failed: attempt.failed,
            });
        }
        let result = fetch().await;
        // The cool-down runs from the end of the attempt: a fetch that timed out is not
        // retried by the next request at once.
        attempt.at_ms = Some(now_ms());
        match result {
            Ok(value) => {
                attempt.failed = false;
                let fetched = Arc::new(Fetched {
                    value,
                    fetched_at_ms: now_ms(),
                });
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(fetched.clone());
                Ok(fetched)
            }
            Err(error) => {
                attempt.failed = true;
                Err(NotRefreshed::Failed(error))
            }
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn block_on<F: Future>(future: F) -> F::Output {
        futures_util::FutureExt::now_or_never(future).expect("ready")
    }

    #[test]
    fn one_fetch_per_cool_down_and_its_failure_remembered() {
        let cache = Refreshing::<u32>::new(Duration::from_secs(30), Duration::from_secs(600));
        let fetches = AtomicUsize::new(0);
        let failing = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Err::<u32, BoxError>("down".into())
        };
        assert!(matches!(
            block_on(cache.refresh(None, failing)),
            Err(NotRefreshed::Failed(_))
        ));
        assert!(matches!(
            block_on(cache.refresh(None, failing)),
            Err(NotRefreshed::CoolingDown { failed: true })
        ));
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_value_fetched_by_another_caller_is_taken_as_is() {
        let cache = Refreshing::<u32>::new(Duration::ZERO, Duration::from_secs(600));
        let first = block_on(cache.refresh(None, || async { Ok(1) })).unwrap();
        // A caller that read nothing before the first fetch gets its value, not a new fetch.
        let seen_nothing = block_on(cache.refresh(None, || async { Ok(2) })).unwrap();
        assert!(Arc::ptr_eq(&first, &seen_nothing));
        let again = block_on(cache.refresh(Some(&first), || async { Ok(3) })).unwrap();
        assert_eq!(again.value, 3);
        assert!(!cache.is_stale(&again));
    }
}
