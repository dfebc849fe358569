/**
 * Appends one entry and bounds the stream, atomically, so no write can leave a
 * stream without its expiry: KEYS[1] the stream, ARGV[1] the approximate
 * MAXLEN, ARGV[2] the retention in ms, ARGV[3] the deadline on the server's
 * clock in ms (0: none), ARGV[4..] the entry's field/value pairs.
 *
 * A write that reaches Redis after its deadline — one that ioredis resends
 * after a reconnect, long after `send()` rejected — is refused with a
 * `TEALLATE` error and leaves nothing behind.
 * Entries older than the retention are trimmed (MINID, from the new entry's
 * own timestamp), and the stream expires when unused for it.
 * The entry also records the id of the entry before it (`v`), so that a reader
 * can tell when trimming removed entries it had not read.
 * Sent with EVAL rather than EVALSHA: a NOSCRIPT retry would reorder writes.
 */
export const APPEND_SCRIPT = `local deadline = tonumber(ARGV[3])
if deadline > 0 then
  local now = redis.call('TIME')
  if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > deadline then
    return redis.error_reply('TEALLATE the write reached Redis after its deadline and was refused')
  end
end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'v', last and last[1] or '0-0', unpack(ARGV, 4))
local retention = tonumber(ARGV[2])
local ms = tonumber(string.match(id, '^%d+'))
if ms > retention then redis.call('XTRIM', KEYS[1], 'MINID', '~', ms - retention) end
redis.call('PEXPIRE', KEYS[1], retention)
return id`;

/** The error code of a write that `APPEND_SCRIPT` refused because it arrived late. */
export const LATE_WRITE = 'TEALLATE';

/**
 * The server's clock, read on the node that holds KEYS[1] (in a cluster, the
 * node of the prefix's slot, whose clock judges the deadlines). Reads no key.
 */
export const TIME_SCRIPT = `return redis.call('TIME')`;

/** Deletes KEYS[1] if it holds something else than a stream: a handler's own key, clobbered. */
export const DELETE_UNLESS_STREAM_SCRIPT = `if redis.call('TYPE', KEYS[1]).ok ~= 'stream' then
  return redis.call('DEL', KEYS[1])
end
return 0`;
