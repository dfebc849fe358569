import { createHash } from 'node:crypto';

/** Both scripts' first lines: past the deadline in ARGV[3] (Redis's clock, ms; 0: none), nothing is written. */
const REFUSE_LATE = `local deadline = tonumber(ARGV[3])
if deadline > 0 then
  local now = redis.call('TIME')
  if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > deadline then
    return redis.error_reply('TEALLATE the write reached Redis after its deadline and was refused')
  end
end
`;

/**
 * Appends one entry and bounds the stream, atomically, so no write can leave a
 * stream without its expiry: KEYS[1] the stream, KEYS[2] its last-id key
 * (none for a wake stream, whose entries no reader checks), ARGV[1] the
 * approximate MAXLEN, ARGV[2] the retention in ms, ARGV[3] the deadline on
 * the server's clock in ms (0: none), ARGV[4] the entry's `m` up to its
 * previous id (`<producer> <sequence> `; empty for a wake entry), ARGV[5..]
 * its other field/value pairs.
 *
 * A write that reaches Redis after its deadline — one that ioredis resends
 * after a reconnect, long after `send()` rejected — is refused with a
 * `TEALLATE` error and leaves nothing behind.
 * Entries older than the retention are trimmed (MINID, from the new entry's
 * own timestamp), and the stream expires when unused for it.
 * The entry also records the id of the entry before it (the end of `m`), so
 * that a reader can tell when trimming removed entries it had not read. That id is kept in
 * the stream's last-id key, a string that expires with the stream: reading
 * the stream's last entry instead (XREVRANGE) copies its whole body into the
 * script (measured on Redis 7.0: 31 → 29 µs a write with 200-byte bodies,
 * 351 → 256 µs with 64 KiB ones). Where the key is missing or not a string
 * (a stream written before it existed, or garbage put there), the last entry
 * is read as before. A writer of an older version does not update the key:
 * until every writer has this one, an id read from it may be older than the
 * last one, which a reader takes for no gap — it never reports a gap that is
 * not there, and may miss one that trimming made meanwhile.
 * The MINID trim runs on the first entry of each millisecond only: a later
 * entry of the same millisecond would trim to the same id, with nothing older
 * added since (this saves a sixth of the script's time on Redis, measured).
 */
export const APPEND_SCRIPT = `${REFUSE_LATE}local last = KEYS[2] and redis.pcall('GET', KEYS[2])
if type(last) ~= 'string' then
  local entry = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
  last = entry and entry[1]
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[4] .. (last or '0-0'), unpack(ARGV, 5))
local retention = tonumber(ARGV[2])
local idMs = string.match(id, '^%d+')
if not last or string.match(last, '^%d+') ~= idMs then
  local ms = tonumber(idMs)
  if ms > retention then redis.call('XTRIM', KEYS[1], 'MINID', '~', ms - retention) end
end
if KEYS[2] then redis.call('SET', KEYS[2], id, 'PX', retention) end
redis.call('PEXPIRE', KEYS[1], retention)
return id`;

/** The append script's SHA1, by which `EVALSHA` names it once Redis has it. */
export const APPEND_SCRIPT_SHA = createHash('sha1').update(APPEND_SCRIPT).digest('hex');

/** The append script's KEYS: a stream, and its last-id key, from which entries name their previous ids. */
export type AppendKeys = readonly [stream: string] | readonly [stream: string, lastId: string];

/**
 * The append script for the sends of one tick: what `APPEND_SCRIPT` does for
 * one entry, for each entry in turn, in one run. KEYS: each entry's stream
 * and its last-id key, in send order. ARGV[1] the approximate MAXLEN,
 * ARGV[2] the retention in ms, ARGV[3] the deadline on the server's clock in
 * ms (0: none), then for each entry its number of arguments and those: its
 * `m` up to its previous id, then its other field/value pairs.
 *
 * Past the deadline nothing is written (`TEALLATE`, as for one entry). Each
 * entry's commands run under `pcall`: a key that holds another type fails
 * its entries and no other, and the reply holds, per entry, its id or the
 * error that refused it. An entry's previous id is the id of the entry
 * before it, also when that one is of the same run. Each stream's last-id key and
 * expiry are set once, after its last entry; the MINID trim runs on the
 * first entry of each millisecond, as for one entry.
 */
export const APPEND_BATCH_SCRIPT = `${REFUSE_LATE}local retention = tonumber(ARGV[2])
local results, lasts, order = {}, {}, {}
local at = 4
for k = 1, #KEYS, 2 do
  local stream, lastKey = KEYS[k], KEYS[k + 1]
  local fields = tonumber(ARGV[at])
  local first, final = at + 1, at + fields
  at = final + 1
  local last = lasts[stream]
  local failed = nil
  if last == nil then
    last = redis.pcall('GET', lastKey)
    if type(last) ~= 'string' then
      local entries = redis.pcall('XREVRANGE', stream, '+', '-', 'COUNT', 1)
      if entries.err then failed = entries else last = entries[1] and entries[1][1] end
    end
  end
  local id = failed or redis.pcall('XADD', stream, 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[first] .. (last or '0-0'), unpack(ARGV, first + 1, final))
  if type(id) == 'string' then
    local idMs = string.match(id, '^%d+')
    if not last or string.match(last, '^%d+') ~= idMs then
      local ms = tonumber(idMs)
      if ms > retention then redis.call('XTRIM', stream, 'MINID', '~', ms - retention) end
    end
    if lasts[stream] == nil then order[#order + 1] = {stream, lastKey} end
    lasts[stream] = id
  end
  results[#results + 1] = id
end
for _, keys in ipairs(order) do
  redis.call('SET', keys[2], lasts[keys[1]], 'PX', retention)
  redis.call('PEXPIRE', keys[1], retention)
end
return results`;

/** The batch script's SHA1, by which `EVALSHA` names it once Redis has it. */
export const APPEND_BATCH_SCRIPT_SHA = createHash('sha1').update(APPEND_BATCH_SCRIPT).digest('hex');

/**
 * The most entries, and body bytes, one run of the batch script carries. A
 * body larger than the byte bound goes alone, at once, by the append script:
 * batched, the 16 sends of 64 KiB the benchmark keeps in flight went as one
 * run at a time, and Redis appended nothing while the next run was on its
 * way (64 KiB payloads: 250 → 160 MB/s; 200-byte sends gain from batching).
 */
export const MAX_BATCH_ENTRIES = 128;
export const MAX_BATCH_BYTES = 64 * 1024;
