import { setTimeout as delay } from 'node:timers/promises';
import { type AMQExchangeName, backoffDelay } from '@teal/amq-core';
import { untilAborted } from './abort';
import type { RedisClient } from './clients';
import { DuplicateFilter } from './dedupe';
import { parseEntry, streamReply, type XReadReply } from './entries';
import { PACKAGE, RedisStreamsConnectionError, RedisStreamsLagError } from './errors';
import { compareStreamIds } from './ids';

/** What the reader needs from its transport. */
export interface ReaderHooks {
  /** Hands a message to the handler. */
  deliver(exchange: AMQExchangeName, routingKey: string, body: Uint8Array): void;
  /** Appends an entry to the wake stream, which makes a blocked XREAD return. */
  wake(): Promise<void>;
  reportError(error: unknown): void;
}

export interface ReaderOptions {
  readonly wakeStream: string;
  readonly blockMs: number;
  readonly readCount: number;
  readonly duplicateWindowMs: number;
}

/** One stream the reader reads, and the keys bound in it. */
interface Cursor {
  readonly stream: string;
  readonly exchange: AMQExchangeName;
  /** The id of the last entry read: the next XREAD starts after it. */
  position: string;
  /** Each bound key and the stream's last id when it was bound: older entries are not its. */
  readonly keys: Map<string, string>;
}

/**
 * The handler's one blocking reader: a loop of XREAD over every stream with
 * a bound key, plus the handler's wake stream, each from the last id read.
 * It never reads from `$`, so nothing added between two reads is skipped,
 * and when ioredis reconnects it resends the pending XREAD with the same ids:
 * the reader resumes where it was.
 */
export class StreamReader {
  readonly #client: RedisClient;
  readonly #options: ReaderOptions;
  readonly #hooks: ReaderHooks;
  readonly #cursors = new Map<string, Cursor>();
  readonly #duplicates: DuplicateFilter;
  #wakePosition = '0-0';
  #loop: Promise<void> | null = null;
  #isStopped = false;
  readonly #stopped = new AbortController();
  #isReading = false;
  #reads = 0;
  #wokenAtRead = -1;
  #wakeWrite: Promise<void> = Promise.resolve();

  constructor(client: RedisClient, options: ReaderOptions, hooks: ReaderHooks) {
    this.#client = client;
    this.#options = options;
    this.#hooks = hooks;
    this.#duplicates = new DuplicateFilter(options.duplicateWindowMs);
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
      cursor = { stream, exchange, position: boundAt, keys: new Map() };
      this.#cursors.set(stream, cursor);
    }
    cursor.keys.set(routingKey, boundAt);
    this.#loop ??= this.#run();
    return isNew ? this.#wake() : Promise.resolve();
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
    this.#isStopped = true;
    this.#stopped.abort();
    this.#client.disconnect();
    await this.#loop;
  }

  /** Wakes a blocked XREAD that lacks a stream added since, once per read. */
  #wake(): Promise<void> {
    if (!this.#isReading || this.#wokenAtRead === this.#reads) return this.#wakeWrite;
    this.#wokenAtRead = this.#reads;
    this.#wakeWrite = this.#hooks.wake().catch(() => {
      // Not fatal: the reader picks the stream up when its BLOCK times out.
    });
    return this.#wakeWrite;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#isStopped) {
      const snapshot = new Map(this.#cursors);
      const streams = [this.#options.wakeStream, ...snapshot.keys()];
      const ids = [this.#wakePosition, ...[...snapshot.values()].map((cursor) => cursor.position)];
      let reply: XReadReply;
      this.#reads++;
      this.#isReading = true;
      try {
        // biome-ignore format: the argument list reads as the command does
        const read = this.#client.callBuffer(
          'xread', 'COUNT', this.#options.readCount, 'BLOCK', this.#options.blockMs,
          'STREAMS', ...streams, ...ids,
        );
        // A connection closed while reconnecting never settles its pending command: stop() must not wait for it.
        reply = streamReply(await untilAborted(read, this.#stopped.signal));
        failures = 0;
      } catch (error) {
        if (this.#isStopped) return;
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
        if (reply !== null && !this.#isStopped) this.#handle(reply, snapshot);
      } catch (error) {
        this.#hooks.reportError(error);
      }
      this.#duplicates.prune(Date.now());
    }
  }

  #handle(reply: NonNullable<XReadReply>, snapshot: ReadonlyMap<string, Cursor>): void {
    const now = Date.now();
    for (const [streamName, entries] of reply) {
      const stream = streamName.toString();
      if (stream === this.#options.wakeStream) {
        const last = entries.at(-1);
        if (last !== undefined) this.#wakePosition = last[0].toString();
        continue;
      }
      const cursor = snapshot.get(stream);
      for (const [entryId, fields] of entries) {
        // A stream dropped (and maybe re-added at a new position) meanwhile: its new cursor reads on.
        if (cursor === undefined || this.#cursors.get(stream) !== cursor) break;
        const id = entryId.toString();
        const entry = parseEntry(fields);
        // Each entry names the one before it: a later one means trimming removed entries unread.
        const previous = entry?.previous;
        if (
          previous != null &&
          previous !== cursor.position &&
          compareStreamIds(previous, cursor.position) > 0
        ) {
          this.#reportTrimmed(cursor);
        }
        cursor.position = id;
        if (entry === null) continue;
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
  }

  #reportTrimmed(cursor: Cursor): void {
    this.#hooks.reportError(
      new RedisStreamsLagError(
        `[${PACKAGE}] the reader fell more than maxLength entries behind on ${cursor.exchange}: ` +
          'entries were trimmed before it read them, so messages were lost; raise maxLength or readCount, or read faster',
      ),
    );
  }
}
