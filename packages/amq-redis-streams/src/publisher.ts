import { createHash } from 'node:crypto';
import {
  type AMQExchangeName,
  AMQSendError,
  AMQUnconfirmedSendError,
  messageOf,
  type TransportContext,
} from '@teal/amq-core/adapter';
import { Cluster, Command, ReplyError } from 'ioredis';
import type { CommandConnection } from './connection-command';
import { entryFields } from './entries';
import { addHeaders } from './entries-headers';
import type { StreamKeys } from './names';
import { ReplicaAcks } from './publisher-replicas';
import { PendingWrite, UnansweredWrites } from './publisher-writes';
import { PACKAGE, type RedisStreamsSettings } from './settings';

/**
 * Appends one entry and bounds the stream, atomically, so no write can leave a
 * stream without its expiry: KEYS[1] the stream, KEYS[2] its last-id key
 * (none for a wake stream, whose entries no reader checks), ARGV[1] the
 * approximate MAXLEN, ARGV[2] the retention in ms, ARGV[3] the deadline on
 * the server's clock in ms (0: none), ARGV[4..] the entry's field/value pairs.
 *
 * A write that reaches Redis after its deadline — one that ioredis resends
 * after a reconnect, long after `send()` rejected — is refused with a
 * `TEALLATE` error and leaves nothing behind.
 * Entries older than the retention are trimmed (MINID, from the new entry's
 * own timestamp), and the stream expires when unused for it.
 * The entry also records the id of the entry before it (`v`), so that a reader
 * can tell when trimming removed entries it had not read. That id is kept in
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
export const APPEND_SCRIPT = `local deadline = tonumber(ARGV[3])
if deadline > 0 then
  local now = redis.call('TIME')
  if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > deadline then
    return redis.error_reply('TEALLATE the write reached Redis after its deadline and was refused')
  end
end
local last = KEYS[2] and redis.pcall('GET', KEYS[2])
if type(last) ~= 'string' then
  local entry = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
  last = entry and entry[1]
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'v', last or '0-0', unpack(ARGV, 4))
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

/** The append script's KEYS: a stream, and its last-id key where readers check the entries' `v`. */
export type AppendKeys = readonly [stream: string] | readonly [stream: string, lastId: string];

/** How long before its caller's deadline a write stops being accepted: room for its reply to come back in time. */
const MAX_REPLY_MARGIN_MS = 250;

/** What a publisher writes with: the handler's command connection, and its settings and names. */
export interface PublisherParts {
  readonly command: CommandConnection;
  readonly context: TransportContext;
  readonly settings: RedisStreamsSettings;
  readonly keys: StreamKeys;
  /** Names the handler's writes, for the readers' duplicate detection. */
  readonly producer: string;
}

/**
 * The publishing side: each send is one run of the append script, which
 * Redis refuses once the send's deadline passed, so a write sent again after
 * a reconnect never lands late. A send rejects with `AMQUnconfirmedSendError`
 * — the one rejection that may hide a delivery — when its write was on the
 * wire and Redis did not answer it: the connection dropped or went silent
 * before the reply, and the deadline passed or the copy sent again was
 * refused. Any other rejection means the entry was never written.
 *
 * The script goes by its SHA1 (`EVALSHA`: a few dozen bytes on the wire
 * instead of the script's 913) once an `EVAL` of it succeeded on the current
 * connection, which loads it into Redis's script cache. Each new connection
 * starts with `EVAL` again, and the writes ioredis sends again on it are
 * turned back into `EVAL` first: a restarted or promoted server may not have
 * the script. A `NOSCRIPT` (the cache flushed while connected) is never
 * retried — the retry would land after later writes — but rejected as not
 * written, and the next writes use `EVAL` again. On a Cluster, where a write
 * may be redirected to a node whose cache nobody filled, it is always `EVAL`.
 */
export class Publisher {
  readonly #command: CommandConnection;
  readonly #context: TransportContext;
  readonly #settings: RedisStreamsSettings;
  readonly #keys: StreamKeys;
  /** Random; with the sequence, readers drop a write Redis got twice (sent again after a reconnect). */
  readonly #producer: string;
  /** With `durability: 'replicated'`: what holds a send until a replica has it. */
  readonly #replicas: ReplicaAcks | null;
  readonly #unanswered = new UnansweredWrites();
  #sequence = 0;
  #hasWarnedOfHeaders = false;
  /** Whether writes name the script by its SHA1: Redis has it, as far as this connection knows. */
  #isScriptCached = false;
  readonly #mayCacheScript: boolean;

  constructor(parts: PublisherParts) {
    const { command, settings } = parts;
    this.#command = command;
    this.#context = parts.context;
    this.#settings = settings;
    this.#keys = parts.keys;
    this.#producer = parts.producer;
    const isReplicated = settings.durability === 'replicated';
    this.#replicas = isReplicated ? new ReplicaAcks(command, settings.livenessMs) : null;
    this.#mayCacheScript = !(command.client instanceof Cluster);
    command.onConnect(() => {
      this.#isScriptCached = false;
      this.#unanswered.disarmAbandoned(APPEND_SCRIPT);
    });
  }

  /** Appends a message to its key's bucket stream; resolves once Redis has it. */
  publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    signal: AbortSignal,
    headers?: Readonly<Record<string, string>>,
  ): Promise<void> {
    const payload =
      typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    // The gate issues writes in call order: sequence order is write order.
    const fields = entryFields(routingKey, this.#producer, ++this.#sequence, payload);
    if (headers !== undefined && addHeaders(fields, headers) > 0) this.#warnOfHeaders();
    const keys = this.#keys.appendKeys(exchange, routingKey);
    const { maxLength, retentionMs } = this.#settings;
    const isReplicated = this.#replicas !== null;
    return this.append(keys, maxLength, retentionMs, fields, signal, exchange, isReplicated);
  }

  /**
   * Appends an entry with `fields` to a stream (`keys`: the stream, and its
   * last-id key unless no reader checks its entries), bounded by `maxLength` and
   * `retentionMs`, once the connection is usable; never written once `signal`
   * fired, and refused by Redis itself from a margin before the deadline;
   * `isReplicated`: resolved only once a replica has it too.
   */
  append(
    keys: AppendKeys,
    maxLength: number,
    retentionMs: number,
    fields: readonly (string | Buffer)[],
    signal: AbortSignal,
    what: string,
    isReplicated = false,
  ): Promise<void> {
    // Core made `signal` to fire sendTimeoutMs from now: Redis refuses the write from a
    // margin before, so that its reply has time to come back.
    const timeoutMs = this.#context.sendTimeoutMs;
    const refusedFrom = Date.now() + timeoutMs - Math.min(MAX_REPLY_MARGIN_MS, timeoutMs / 10);
    return this.#command.whenUsable(
      () =>
        this.#write(keys, maxLength, retentionMs, fields, signal, refusedFrom, what, isReplicated),
      signal,
    );
  }

  /** Settles what Redis never answered: called once the connection is closed. */
  close(): void {
    this.#unanswered.close();
  }

  #write(
    keys: AppendKeys,
    maxLength: number,
    retentionMs: number,
    fields: readonly (string | Buffer)[],
    signal: AbortSignal,
    refusedFrom: number,
    what: string,
    isReplicated: boolean,
  ): Promise<void> {
    // A command the gate released on the tick its signal fired must still not be written.
    if (signal.aborted) return Promise.reject(signal.reason);
    if (Date.now() >= refusedFrom) {
      return Promise.reject(
        new AMQSendError(
          `[${PACKAGE}] the deadline of the message on ${what} passed while it waited for Redis: it was not written`,
        ),
      );
    }
    const deadline = this.#command.clock.toServer(refusedFrom);
    const isByHash = this.#isScriptCached;
    // A command of our own, not client.eval(): its deadline can be disarmed before a resend.
    // biome-ignore format: the arguments read as the script's KEYS and ARGV
    const command = new Command(isByHash ? 'evalsha' : 'eval', [isByHash ? APPEND_SCRIPT_SHA : APPEND_SCRIPT, keys.length, ...keys, maxLength, retentionMs, String(deadline), ...fields], { replyEncoding: 'utf8' });
    const write = new PendingWrite(command, signal, refusedFrom, this.#command.losses, what);
    this.#command.coalesceWrites();
    this.#command.client.sendCommand(command);
    const replicas = isReplicated ? this.#replicas : null;
    // Asked for now: the WAIT of this tick goes out after this write.
    const replicated = replicas?.next(write);
    command.promise.then(
      () => {
        // Answered on this connection: its server has the script now.
        if (write.losses === this.#command.losses) this.#isScriptCached = this.#mayCacheScript;
        if (!replicas || !replicated) return this.#unanswered.settle(write);
        replicas.confirm(write, replicated, this.#command.losses).then(
          () => this.#unanswered.settle(write),
          (error: unknown) => this.#unanswered.settle(write, error),
        );
      },
      (error: unknown) => this.#unanswered.settle(write, this.#failure(write, error)),
    );
    this.#unanswered.add(write);
    return write.promise;
  }

  /**
   * Redis's error reply to the write itself means it refused it and wrote
   * nothing. Anything else — a reply to a copy sent again after a reconnect,
   * ioredis giving up on the command — leaves the first copy's fate unknown.
   */
  #failure(write: PendingWrite, error: unknown): unknown {
    if (write.losses === this.#command.losses && error instanceof ReplyError) {
      if (!messageOf(error).startsWith('NOSCRIPT')) return error;
      this.#isScriptCached = false;
      return new AMQSendError(
        `[${PACKAGE}] Redis no longer had the append script (its script cache was flushed): the message on ${write.what} was not written`,
        { cause: error },
      );
    }
    return new AMQUnconfirmedSendError(
      `[${PACKAGE}] the message on ${write.what} was written, but Redis did not confirm it (${messageOf(error)}): Redis may have it, so it may still be delivered, once; no copy lands after its deadline`,
      { cause: error },
    );
  }

  #warnOfHeaders(): void {
    if (this.#hasWarnedOfHeaders) return;
    this.#hasWarnedOfHeaders = true;
    // Nothing of the headers: a value may be anything a tracer put there.
    this.#context.logger.warn(
      'left out headers that readers would not take (more than 16, a name that is not letters, digits, _ . -, a value that is not printable ASCII, over 8 KiB in all); warned once per handler',
      { adapter: PACKAGE },
    );
  }
}
