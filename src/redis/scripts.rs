//! The Lua scripts that make each Redis change one atomic step.

use std::sync::LazyLock;

use redis::Script;

/// Extends a live session (never brings back a deleted one, never shortens).
/// KEYS: session. ARGV: expires_at_ms.
pub(crate) static EXTEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local wanted = tonumber(ARGV[1])
if wanted > tonumber(redis.call('HGET', KEYS[1], 'e') or '0') then
  redis.call('HSET', KEYS[1], 'e', ARGV[1])
  redis.call('PEXPIREAT', KEYS[1], ARGV[1])
end
return 1",
    )
});

/// Sets a live session's log level. KEYS: session. ARGV: level (JSON).
pub(crate) static SET_LEVEL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'l', ARGV[1])
return 1",
    )
});

/// The next standalone sequence number, seeded when the session has none.
/// KEYS: seq. ARGV: initial seq, how long to keep it (ms).
pub(crate) static NEXT_SEQ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
local seq = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return seq",
    )
});

/// Logs an event and hands it to the process holding the stream it belongs to.
/// KEYS: log, holders. ARGV: stream key, entry if delivered, entry if not, note for the holder,
/// capacity, how long to keep the log (ms), process channel prefix.
/// Returns whether a stream holder was told.
pub(crate) static APPEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local holder = redis.call('HGET', KEYS[2], ARGV[1])
local told = 0
if holder then
  local process, token = string.match(holder, '^(%S+) (%S+)$')
  told = redis.call('PUBLISH', ARGV[7] .. process, token .. ' ' .. ARGV[4])
end
if told > 0 then
  redis.call('RPUSH', KEYS[1], ARGV[2])
else
  redis.call('RPUSH', KEYS[1], ARGV[3])
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[5]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return told",
    )
});

/// Makes a stream the holder of its stream key and reads the log for its replay.
/// KEYS: holders, log, seq. ARGV: stream key, `<process> <token>`, how long to keep (ms).
/// Returns the previous holder (or false), the last seq (or false), then the log entries.
pub(crate) static OPEN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local previous = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local result = { previous, redis.call('GET', KEYS[3]) }
for _, entry in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  table.insert(result, entry)
end
return result",
    )
});

/// Marks replayed entries delivered: each old entry found in the log is replaced by the new.
/// KEYS: log. ARGV: old, new, old, new, …
pub(crate) static MARK_DELIVERED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for i = 1, #ARGV, 2 do
  local index = redis.call('LPOS', KEYS[1], ARGV[i])
  if index then redis.call('LSET', KEYS[1], index, ARGV[i + 1]) end
end
return 0",
    )
});

/// Gives up a stream's holding if it still has it. KEYS: holders. ARGV: stream key, holder.
pub(crate) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0",
    )
});

/// Keeps a stream's holding alive. KEYS: holders. ARGV: stream key, holder, how long (ms).
pub(crate) static HOLD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 0",
    )
});

/// Subscribes a session to a URI unless it is at its limit (lapsed subscriptions of the
/// session and of the URI are dropped on the way).
/// KEYS: session's subscriptions, URI's subscribers. ARGV: uri, session, until, now, limit.
pub(crate) static SUBSCRIBE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
if redis.call('PEXPIRETIME', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIREAT', KEYS[2], ARGV[3]) end
return 1",
    )
});

/// Moves every subscription of a session to a new lapse time.
/// KEYS: session's subscriptions. ARGV: until, subscribers key prefix, session.
pub(crate) static EXTEND_SUBSCRIPTIONS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for _, uri in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  redis.call('ZADD', KEYS[1], ARGV[1], uri)
  local subscribers = ARGV[2] .. string.len(uri) .. ':' .. uri
  redis.call('ZADD', subscribers, 'XX', ARGV[1], ARGV[3])
  if redis.call('PEXPIRETIME', subscribers) < tonumber(ARGV[1]) then redis.call('PEXPIREAT', subscribers, ARGV[1]) end
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIREAT', KEYS[1], ARGV[1]) end
return 0",
    )
});

/// Hands a client's response to the process waiting for it. KEYS: waiters. ARGV: request id,
/// note, process channel prefix. Returns whether a waiting process heard it.
pub(crate) static RESPOND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local process = redis.call('HGET', KEYS[1], ARGV[1])
if not process then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return redis.call('PUBLISH', ARGV[3] .. process, '- ' .. ARGV[2])",
    )
});
