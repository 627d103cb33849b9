//! The session records this isolate read or wrote in the last second: a steady stream of
//! requests in one session reads KV once a second, not once a request.
//!
//! What it costs a client: a change made through another isolate (a DELETE, a
//! `logging/setLevel`, an extension) is seen here at most [`FRESH_MS`] later; changes made
//! through this isolate are seen at once. (KV itself may take up to a minute to show a write
//! made elsewhere; the cache adds at most a second to that.)

use std::cell::RefCell;
use std::collections::HashMap;

use crate::context::SessionRecord;

/// How long a record read or written here is served without reading KV again.
pub(crate) const FRESH_MS: u64 = 1000;

/// Records kept at most; past it, stale ones go, then everything.
const CAPACITY: usize = 1024;

#[derive(Default)]
struct Recent {
    records: HashMap<String, (SessionRecord, u64)>,
}

thread_local! {
    // A Worker isolate runs one thread; the cache lives as long as the isolate.
    static RECENT: RefCell<Recent> = RefCell::default();
}

/// The record under `key`, if this isolate saw it less than [`FRESH_MS`] ago.
pub(crate) fn get(key: &str, now_ms: u64) -> Option<SessionRecord> {
    RECENT.with_borrow(|recent| {
        recent
            .records
            .get(key)
            .filter(|(_, seen_ms)| now_ms.saturating_sub(*seen_ms) < FRESH_MS)
            .map(|(record, _)| record.clone())
    })
}

/// Remembers the record under `key` as seen at `now_ms`.
pub(crate) fn put(key: &str, record: &SessionRecord, now_ms: u64) {
    RECENT.with_borrow_mut(|recent| {
        if recent.records.len() >= CAPACITY && !recent.records.contains_key(key) {
            recent
                .records
                .retain(|_, (_, seen_ms)| now_ms.saturating_sub(*seen_ms) < FRESH_MS);
            if recent.records.len() >= CAPACITY {
                recent.records.clear();
            }
        }
        recent
            .records
            .insert(key.to_owned(), (record.clone(), now_ms));
    });
}

/// Changes the remembered record under `key`, if there is one, without making it fresher.
pub(crate) fn update(key: &str, change: impl FnOnce(&mut SessionRecord)) {
    RECENT.with_borrow_mut(|recent| {
        if let Some((record, _)) = recent.records.get_mut(key) {
            change(record);
        }
    });
}

/// Forgets the record under `key`.
pub(crate) fn forget(key: &str) {
    RECENT.with_borrow_mut(|recent| {
        recent.records.remove(key);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::SessionId;

    #[test]
    fn records_are_fresh_for_a_second_and_bounded() {
        let record = SessionRecord::new(SessionId::generate(), "2025-11-25", 0, 60_000);
        put("k", &record, 10_000);
        assert_eq!(get("k", 10_999), Some(record.clone()));
        assert_eq!(get("k", 11_000), None);
        update("k", |r| r.expires_at_ms = 1);
        assert_eq!(get("k", 10_001).map(|r| r.expires_at_ms), Some(1));
        forget("k");
        assert_eq!(get("k", 10_001), None);
        for n in 0..=CAPACITY {
            put(&n.to_string(), &record, 20_000);
        }
        assert!(RECENT.with_borrow(|r| r.records.len()) <= CAPACITY);
    }
}
