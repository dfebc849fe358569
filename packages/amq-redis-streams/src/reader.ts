import { setTimeout as delay } from 'node:timers/promises';
import { type AMQExchangeName, type Backlog, backoffDelay } from '@teal/amq-core';
import { untilAborted } from './abort';
import type { RedisClient } from './clients';
import { DuplicateFilter } from './dedupe';
import { parseEntry, streamReply, type XReadReply } from './entries';
import { PACKAGE, RedisStreamsConnectionError, RedisStreamsLagError } from './errors';
import { GapJudge } from './gaps';
import { compareStreamIds } from './ids';
import { type Cursor, planRead } from './plan';
import { DELETE_UNLESS_STREAM_SCRIPT } from './scripts';
import type { WarningThrottle } from './warnings';
import { findWrongTypes, isWrongType, RECHECK_MS, recheckSetAside } from './wrong-types';

/** What the reader needs from its transport. */
export interface ReaderHooks {
  /** Hands a message to the handler. */
  deliver(exchange: AMQExchangeName, routingKey: string, body: Uint8Array): void;
  /** Appends an entry to the wake stream, which makes a blocked XREAD return. */
  wake(): Promise<void>;
  reportError(error: unknown): void;
  /** What the handler holds for its callback: the reader reads no more than it has room for. */
  readonly backlog: Backlog;
  readonly warnings: WarningThrottle;
}

export interface ReaderOptions {
  readonly wakeStream: string;
  readonly blockMs: number;
  readonly readCount: number;
  readonly duplicateWindowMs: number;
}

/**
 * The handler's one blocking reader: a loop of XREAD over every stream with
 * a bound key, plus the handler's wake stream, each from the last id read.
 * It never reads from `$`, so nothing added between two reads is skipped,
 * and when ioredis reconnects it resends the pending XREAD with the same ids:
 * the reader resumes where it was. It does not read while the handler's
 * backlog is full, nor more entries than the backlog has room for: what a
 * stuck callback cannot take waits in Redis.
 */
export class StreamReader {
  readonly #client: RedisClient;
  readonly #options: ReaderOptions;
  readonly #hooks: ReaderHooks;
  readonly #cursors = new Map<string, Cursor>();
  readonly #duplicates: DuplicateFilter;
  readonly #gaps: GapJudge;
  readonly #stopped = new AbortController();
  #wakePosition = '0-0';
  #loop: Promise<void> | null = null;
  #isReading = false;
  #reads = 0;
  #wokenAtRead = -1;
  #wakeWrite: Promise<void> = Promise.resolve();
  /** The largest body of the last read that had any: how many bytes the next read may bring per entry. */
  #entryBytes = 0;
  #turn = 0;

  constructor(client: RedisClient, options: ReaderOptions, hooks: ReaderHooks) {
    this.#client = client;
    this.#options = options;
    this.#hooks = hooks;
    this.#duplicates = new DuplicateFilter(options.duplicateWindowMs);
    this.#gaps = new GapJudge(client);
  }

  /** Every bound (exchange, key), as the reader reads them. */
  *bindings(): Iterable<readonly [AMQExchangeName, string]> {
    for (const cursor of this.#cursors.values()) {
      for (const key of cursor.keys.keys()) yield [cursor.exchange, key];
    }
  }

  get isEmpty(): boolean {
    return this.#cursors.size === 0;
  }

  /**
   * Delivers the key's entries after `boundAt`. A stream new to the reader is
   * read from `boundAt`; if an XREAD is blocked without it, the reader is woken.
   */
  add(
    exchange: AMQExchangeName,
    stream: string,
    routingKey: string,
    boundAt: string,
  ): Promise<void> {
    let cursor = this.#cursors.get(stream);
    const isNew = cursor === undefined;
    if (cursor === undefined) {
      cursor = { stream, exchange, position: boundAt, keys: new Map(), recheckAt: 0 };
      this.#cursors.set(stream, cursor);
    }
    cursor.keys.set(routingKey, boundAt);
    // The first bind writes the wake stream too: the handler's one key exists while it reads.
    const isFirst = this.#loop === null;
    this.#loop ??= this.#run();
    return isNew || isFirst ? this.#wake(isFirst) : Promise.resolve();
  }

  /** Stops delivering the key; a stream left without keys is no longer read. */
  remove(stream: string, routingKey: string): void {
    const cursor = this.#cursors.get(stream);
    if (cursor === undefined) return;
    cursor.keys.delete(routingKey);
    if (cursor.keys.size === 0) this.#cursors.delete(stream);
  }

  /** Stops the loop; the caller closes the connection, which ends the pending XREAD. */
  async stop(): Promise<void> {
    this.#stopped.abort(new Error('the reader stopped'));
    this.#client.disconnect();
    await this.#loop;
  }

  get #isStopped(): boolean {
    return this.#stopped.signal.aborted;
  }

  /** Wakes a blocked XREAD that lacks a stream added since, once per read. */
  #wake(isForced: boolean): Promise<void> {
    if (!isForced && (!this.#isReading || this.#wokenAtRead === this.#reads)) {
      return this.#wakeWrite;
    }
    this.#wokenAtRead = this.#reads;
    this.#wakeWrite = this.#hooks.wake().catch(() => {
      // Not fatal: the reader picks the stream up when its BLOCK times out.
    });
    return this.#wakeWrite;
  }

  async #run(): Promise<void> {
    let failures = 0;
    const { backlog } = this.#hooks;
    while (!this.#isStopped) {
      if (backlog.room === 0) {
        // Resolves once the callback drained half the backlog; rejects only when the reader stops.
        await backlog.untilRoom(this.#stopped.signal).catch(() => {});
        continue;
      }
      const plan = planRead(this.#cursors.values(), backlog, {
        readCount: this.#options.readCount,
        blockMs: this.#options.blockMs,
        recheckMs: RECHECK_MS,
        entryBytes: this.#entryBytes,
        turn: this.#turn++,
      });
      const streams = [this.#options.wakeStream, ...plan.cursors.map((cursor) => cursor.stream)];
      const ids = [this.#wakePosition, ...plan.cursors.map((cursor) => cursor.position)];
      let reply: XReadReply;
      this.#reads++;
      this.#isReading = true;
      try {
        // biome-ignore format: the argument list reads as the command does
        const read = this.#client.callBuffer(
          'xread', 'COUNT', plan.count, 'BLOCK', plan.blockMs, 'STREAMS', ...streams, ...ids,
        );
        // A connection closed while reconnecting never settles its pending command: stop() must not wait for it.
        reply = streamReply(await untilAborted(read, this.#stopped.signal));
        failures = 0;
      } catch (error) {
        if (this.#isStopped) return;
        this.#isReading = false;
        if (isWrongType(error) && (await this.#setAsideWrongTypes(streams))) continue;
        if (failures === 0) {
          const reason = error instanceof Error ? error.message : String(error);
          const message = `[${PACKAGE}] reading the streams failed (${reason}); retrying`;
          this.#hooks.reportError(new RedisStreamsConnectionError(message, { cause: error }));
        }
        const signal = this.#stopped.signal;
        await delay(backoffDelay(failures++), undefined, { signal }).catch(() => {});
        continue;
      } finally {
        this.#isReading = false;
      }
      try {
        if (reply !== null && !this.#isStopped) await this.#handle(reply, plan.cursors);
        await recheckSetAside(this.#client, this.#cursors.values());
      } catch (error) {
        if (this.#isStopped) return;
        this.#hooks.reportError(error);
      }
      this.#duplicates.prune(Date.now());
    }
  }

  async #handle(reply: NonNullable<XReadReply>, listed: readonly Cursor[]): Promise<void> {
    this.#gaps.reset();
    const cursors = new Map(listed.map((cursor) => [cursor.stream, cursor]));
    const lagging = new Set<Cursor>();
    let largestBody = 0;
    for (const [streamName, entries] of reply) {
      const stream = streamName.toString();
      if (stream === this.#options.wakeStream) {
        const last = entries.at(-1);
        if (last !== undefined) this.#wakePosition = last[0].toString();
        continue;
      }
      const cursor = cursors.get(stream);
      const now = Date.now();
      for (const [entryId, fields] of entries) {
        // A stream dropped (and maybe re-added at a new position) meanwhile: its new cursor reads on.
        if (cursor === undefined || this.#cursors.get(stream) !== cursor || this.#isStopped) break;
        const id = entryId.toString();
        const before = cursor.position;
        cursor.position = id;
        const entry = parseEntry(id, fields);
        if (typeof entry === 'string') {
          this.#dropped(stream, id, entry);
          continue;
        }
        largestBody = Math.max(largestBody, entry.body.byteLength);
        // Each entry names the one before it: a later one than the last read means a gap.
        const previous = entry.previous;
        if (previous !== null && previous !== before && compareStreamIds(previous, before) > 0) {
          if (!(await this.#gaps.wasDeleted(stream, previous))) {
            this.#dropped(stream, id, 'its previous id (v) names an entry its stream never held');
            continue;
          }
          if (!lagging.has(cursor)) this.#reportTrimmed(cursor);
          lagging.add(cursor);
        }
        if (
          entry.producer !== null &&
          this.#duplicates.isDuplicate(stream, entry.producer, entry.sequence, now)
        ) {
          continue;
        }
        const boundAt = cursor.keys.get(entry.routingKey);
        if (boundAt === undefined || compareStreamIds(id, boundAt) <= 0) continue;
        this.#hooks.deliver(cursor.exchange, entry.routingKey, entry.body);
      }
    }
    if (largestBody > 0) this.#entryBytes = largestBody;
  }

  /**
   * After a WRONGTYPE: stops reading the listed keys that hold something else
   * than a stream until they are streams again (the handler's own wake stream
   * is deleted instead). Whether it found one.
   */
  async #setAsideWrongTypes(streams: readonly string[]): Promise<boolean> {
    try {
      const wrong = await findWrongTypes(this.#client, streams);
      for (const [stream, type] of wrong) {
        this.#hooks.warnings.warn(
          'a key where a stream should be holds another type; not reading it until it is a stream again',
          { stream, type },
        );
        if (stream === this.#options.wakeStream) {
          await this.#client.eval(DELETE_UNLESS_STREAM_SCRIPT, 1, stream);
          this.#wakePosition = '0-0';
        } else {
          const cursor = this.#cursors.get(stream);
          if (cursor !== undefined) cursor.recheckAt = Date.now() + RECHECK_MS;
        }
      }
      return wrong.size > 0;
    } catch {
      return false;
    }
  }

  #dropped(stream: string, id: string, reason: string): void {
    // The stream and the id locate the entry; nothing of its content is quoted.
    this.#hooks.warnings.warn(`dropped a stream entry that is not a message: ${reason}`, {
      stream,
      id,
    });
  }

  #reportTrimmed(cursor: Cursor): void {
    this.#hooks.reportError(
      new RedisStreamsLagError(
        `[${PACKAGE}] entries of ${cursor.exchange} left their stream before the reader read them, so messages were lost: ` +
          'the reader fell more than maxLength entries (or retentionMs) behind, or something deleted them; raise maxLength or retentionMs, or read faster',
      ),
    );
  }
}
