//! The rules of a session's event log, written once for every hub: how ids rise, how long and
//! how many events are kept, and what a stream opening with or without `Last-Event-ID` replays.
//! Backends only store [`LoggedEvent`]s (in memory, in Durable Object storage, in Redis).

use serde::{Deserialize, Serialize};

use super::{Event, EventId, StreamKey};

/// How much of a session's log is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLimits {
    /// Events kept per session.
    pub capacity: usize,
    /// How long an event is kept, in milliseconds.
    pub max_age_ms: u64,
}

/// One event of a session's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedEvent {
    /// The event.
    #[serde(flatten)]
    pub event: Event,
    /// When it was logged, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Whether a stream took it; undelivered events go to the next stream that opens.
    pub delivered: bool,
}

impl LogLimits {
    /// Whether an event logged at `at_ms` is still kept at `now_ms`.
    pub fn keeps(&self, at_ms: u64, now_ms: u64) -> bool {
        now_ms.saturating_sub(at_ms) <= self.max_age_ms
    }

    /// How many of the oldest of `len` events make room for one more.
    pub fn overflow(&self, len: usize) -> usize {
        (len + 1).saturating_sub(self.capacity.max(1))
    }
}

/// The sequence number a session's standalone stream starts from when its hub has no state
/// for it: seeded from the clock, so a session whose log was forgotten and comes back keeps
/// issuing ids above the ones its client already saw.
pub fn initial_seq(now_ms: u64) -> u64 {
    now_ms.saturating_mul(1024)
}

/// The id of the next standalone event after `last_seq` (which it advances).
pub fn next_standalone_id(last_seq: &mut u64) -> EventId {
    *last_seq += 1;
    EventId::new(StreamKey::standalone(), *last_seq)
}

/// The stream a stream opening after `after` follows: a resumed POST stream follows only its
/// own events, everything else is the standalone stream.
pub fn followed_stream(after: Option<&EventId>) -> StreamKey {
    after.map_or_else(StreamKey::standalone, |after| after.stream.clone())
}

/// What a stream opening with `after` (its `Last-Event-ID`) gets first.
#[derive(Debug, PartialEq, Eq)]
pub struct Replay {
    /// Positions (in the order the log was given) of the events to send, oldest first; the
    /// backend marks the undelivered ones delivered.
    pub positions: Vec<usize>,
    /// The id for the priming event: resuming after it loses nothing.
    pub cursor: EventId,
}

/// Picks the replay of a stream opening after `after` from a session's log (oldest first):
/// with `after`, every kept event of that stream after it, delivered or not (the client says
/// it missed them); without, the kept standalone events no stream took.
pub fn replay<'a>(
    log: impl IntoIterator<Item = &'a LoggedEvent>,
    after: Option<&EventId>,
    last_seq: u64,
    now_ms: u64,
    limits: &LogLimits,
) -> Replay {
    let followed = followed_stream(after);
    let mut positions = Vec::new();
    let mut first_seq = None;
    for (position, logged) in log.into_iter().enumerate() {
        let id = &logged.event.id;
        let wanted = match after {
            Some(after) if id.stream == after.stream => id.seq > after.seq,
            _ => !logged.delivered && id.stream == followed,
        };
        if wanted && limits.keeps(logged.at_ms, now_ms) {
            first_seq.get_or_insert(id.seq);
            positions.push(position);
        }
    }
    // Resuming from the cursor must not skip what is replayed now.
    let cursor = after.cloned().unwrap_or_else(|| {
        let before_replay = first_seq.map_or(last_seq, |seq| seq.saturating_sub(1));
        EventId::new(StreamKey::standalone(), before_replay)
    });
    Replay { positions, cursor }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Message;

    const LIMITS: LogLimits = LogLimits {
        capacity: 4,
        max_age_ms: 1000,
    };

    fn logged(stream: &StreamKey, seq: u64, at_ms: u64, delivered: bool) -> LoggedEvent {
        LoggedEvent {
            event: Event {
                id: EventId::new(stream.clone(), seq),
                data: Message::from(format!("{{\"n\":{seq}}}")),
            },
            at_ms,
            delivered,
        }
    }

    #[test]
    fn a_fresh_stream_gets_what_no_stream_took() {
        let g = StreamKey::standalone();
        let post = StreamKey::new_post();
        let log = [
            logged(&g, 11, 100, true),
            logged(&post, 1, 100, false),
            logged(&g, 12, 100, false),
            logged(&g, 13, 100, false),
        ];
        let replay = replay(&log, None, 13, 200, &LIMITS);
        assert_eq!(replay.positions, vec![2, 3]);
        assert_eq!(replay.cursor, EventId::new(g, 11));
    }

    #[test]
    fn nothing_to_replay_puts_the_cursor_at_the_last_id() {
        let g = StreamKey::standalone();
        let replay = replay(&[logged(&g, 7, 100, true)], None, 7, 200, &LIMITS);
        assert!(replay.positions.is_empty());
        assert_eq!(replay.cursor, EventId::new(g, 7));
    }

    #[test]
    fn resuming_gets_everything_after_the_id_delivered_or_not() {
        let g = StreamKey::standalone();
        let log = [
            logged(&g, 5, 100, true),
            logged(&g, 6, 100, true),
            logged(&g, 7, 100, false),
        ];
        let after = EventId::new(g, 5);
        let replay = replay(&log, Some(&after), 7, 200, &LIMITS);
        assert_eq!(replay.positions, vec![1, 2]);
        assert_eq!(replay.cursor, after);
    }

    #[test]
    fn a_resumed_post_stream_follows_only_its_own_events() {
        let g = StreamKey::standalone();
        let post = StreamKey::new_post();
        let log = [
            logged(&post, 1, 100, true),
            logged(&g, 9, 100, false),
            logged(&post, 2, 100, false),
        ];
        let after = EventId::new(post.clone(), 1);
        assert_eq!(followed_stream(Some(&after)), post);
        assert_eq!(
            replay(&log, Some(&after), 9, 200, &LIMITS).positions,
            vec![2]
        );
    }

    #[test]
    fn old_events_are_not_replayed() {
        let g = StreamKey::standalone();
        let log = [logged(&g, 1, 100, false), logged(&g, 2, 1500, false)];
        assert_eq!(replay(&log, None, 2, 1500, &LIMITS).positions, vec![1]);
        assert!(LIMITS.keeps(100, 1100));
        assert!(!LIMITS.keeps(100, 1101));
    }

    #[test]
    fn capacity_makes_room_for_one_more() {
        assert_eq!(LIMITS.overflow(0), 0);
        assert_eq!(LIMITS.overflow(3), 0);
        assert_eq!(LIMITS.overflow(4), 1);
        assert_eq!(LIMITS.overflow(9), 6);
    }

    #[test]
    fn ids_rise_from_the_clock() {
        let mut last = initial_seq(1_000);
        assert!(last > initial_seq(999));
        let id = next_standalone_id(&mut last);
        assert_eq!(id, EventId::new(StreamKey::standalone(), 1_024_001));
        assert_eq!(last, 1_024_001);
    }

    #[test]
    fn logged_events_round_trip_through_json() {
        let event = logged(&StreamKey::new_post(), 3, 42, true);
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(serde_json::from_str::<LoggedEvent>(&text).unwrap(), event);
    }
}
