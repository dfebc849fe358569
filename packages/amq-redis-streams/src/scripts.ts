/**
 * Appends one entry and bounds the stream, atomically, so no write can leave a
 * stream without its expiry: KEYS[1] the stream, ARGV[1] the approximate
 * MAXLEN, ARGV[2] the retention in ms, ARGV[3..] the entry's field/value pairs.
 * Entries older than the retention are trimmed (MINID, from the new entry's
 * own timestamp, so no TIME call), and the stream expires when unused for it.
 * The entry also records the id of the entry before it (`v`), so that a reader
 * can tell when trimming removed entries it had not read.
 * Sent with EVAL rather than EVALSHA: a NOSCRIPT retry would reorder writes.
 */
export const APPEND_SCRIPT = `local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'v', last and last[1] or '0-0', unpack(ARGV, 3))
local retention = tonumber(ARGV[2])
local ms = tonumber(string.match(id, '^%d+'))
if ms > retention then redis.call('XTRIM', KEYS[1], 'MINID', '~', ms - retention) end
redis.call('PEXPIRE', KEYS[1], retention)
return id`;
