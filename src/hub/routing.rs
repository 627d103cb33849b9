//! Which open stream gets a message, written once for every hub.
//!
//! One stream per followed stream key (see [`followed_stream`](super::log::followed_stream)):
//! a session has one standalone stream and one per resumed POST stream. A stream that opens
//! replaces the one following the same key, which is ended so its client resumes with
//! `Last-Event-ID` and misses nothing. A message goes to the stream following its key; with
//! none open, it waits in the log, undelivered, for the next one.
//!
//! Why the newest: a hub cannot tell a stream whose client left from one being read — workerd
//! notices a client that went away only when a write to its connection fails, which for an
//! idle SSE stream is the next keep-alive — so "deliver to a stream that looks alive" sends
//! messages into dead connections. The stream a client opened last is the one it reads; a client
//! still reading an older one sees it end and comes back, and the log covers the gap.

use super::StreamKey;

/// Splits the streams following one key into the one that receives its messages and the
/// older ones that must be ended. `opened` orders them (a counter or a clock reading).
pub fn newest_receives<T>(mut streams: Vec<(u64, T)>) -> (Option<T>, Vec<T>) {
    streams.sort_by_key(|(opened, _)| std::cmp::Reverse(*opened));
    let mut streams = streams.into_iter().map(|(_, stream)| stream);
    let receiver = streams.next();
    (receiver, streams.collect())
}

/// Whether a list change reaches a session through a stream following `key`: list changes
/// go to sessions with their standalone stream open (and are logged for them, so resuming
/// loses none); a session with no stream open re-lists when it comes back, so nothing is
/// buffered for it.
pub fn list_change_reaches(key: &StreamKey) -> bool {
    key.is_standalone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_stream_receives_and_the_older_ones_end() {
        let (receiver, ended) = newest_receives(vec![(5, "b"), (9, "c"), (1, "a")]);
        assert_eq!(receiver, Some("c"));
        assert_eq!(ended, vec!["b", "a"]);
        let (receiver, ended) = newest_receives::<&str>(Vec::new());
        assert_eq!(receiver, None);
        assert!(ended.is_empty());
    }

    #[test]
    fn list_changes_follow_standalone_streams_only() {
        assert!(list_change_reaches(&StreamKey::standalone()));
        assert!(!list_change_reaches(&StreamKey::new_post()));
    }
}
