import { setTimeout as delay } from 'node:timers/promises';
import {
  type AMQExchangeName,
  type Backlog,
  backoffDelay,
  messageOf,
  raceSignal,
} from '@teal/amq-core/adapter';
import { type Cursor, StreamCursors } from './bindings';
import { type RedisClient, RedisStreamsConnectionError } from './connection';
import { EntryFilter, type EntryHooks } from './consumer-entries';
import { planRead } from './consumer-plan';
import {
  DELETE_UNLESS_STREAM_SCRIPT,
  findWrongTypes,
  isWrongType,
  RECHECK_MS,
  recheckSetAside,
} from './consumer-wrong-types';
import { streamReply, type XReadReply } from './entries';
import { PACKAGE } from './settings';

/** What the reader needs from its transport. */
export interface ReaderHooks extends EntryHooks {
  /** Appends an entry to the wake stream, which makes a blocked XREAD return. */
  wake(): Promise<void>;
  /** What the handler holds for its callback: the reader reads no more than it has room for. */
  readonly backlog: Backlog;
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
  /** The bound keys, by stream: what every XREAD lists. */
  readonly cursors = new StreamCursors();
  readonly #client: RedisClient;
  readonly #options: ReaderOptions;
  readonly #hooks: ReaderHooks;
  readonly #entries: EntryFilter;
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
    this.#entries = new EntryFilter(client, hooks, options.duplicateWindowMs);
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
    const isNew = this.cursors.add(exchange, stream, routingKey, boundAt);
    // The first bind writes the wake stream too: the handler's one key exists while it reads.
    const isFirst = this.#loop === null;
    this.#loop ??= this.#run();
    return isNew || isFirst ? this.#wake(isFirst) : Promise.resolve();
  }

  /** Stops delivering the key; a stream left without keys is no longer read. */
  remove(stream: string, routingKey: string): void {
    this.cursors.remove(stream, routingKey);
  }

  /** Stops the loop and closes the connection, which ends the pending XREAD. */
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
      const plan = planRead(this.cursors.values(), backlog, {
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
        reply = streamReply(await raceSignal(read, this.#stopped.signal));
        failures = 0;
      } catch (error) {
        if (this.#isStopped) return;
        this.#isReading = false;
        if (isWrongType(error) && (await this.#setAsideWrongTypes(streams))) continue;
        if (failures === 0) {
          const message = `[${PACKAGE}] reading the streams failed (${messageOf(error)}); retrying`;
          this.#hooks.reportError(new RedisStreamsConnectionError(message, { cause: error }));
        }
        const signal = this.#stopped.signal;
        await delay(backoffDelay(failures++), undefined, { signal }).catch(() => {});
        continue;
      } finally {
        this.#isReading = false;
      }
      try {
        if (reply !== null && !this.#isStopped) await this.#take(reply, plan.cursors);
        await recheckSetAside(this.#client, this.cursors.values());
      } catch (error) {
        if (this.#isStopped) return;
        this.#hooks.reportError(error);
      }
      this.#entries.prune(Date.now());
    }
  }

  /** Hands what a read brought to the filter, stream by stream, and moves the wake position. */
  async #take(reply: NonNullable<XReadReply>, listed: readonly Cursor[]): Promise<void> {
    this.#entries.startRead();
    const cursors = new Map(listed.map((cursor) => [cursor.stream, cursor]));
    let largestBody = 0;
    for (const [streamName, entries] of reply) {
      const stream = streamName.toString();
      if (stream === this.#options.wakeStream) {
        const last = entries.at(-1);
        if (last !== undefined) this.#wakePosition = last[0].toString();
        continue;
      }
      const cursor = cursors.get(stream);
      if (cursor === undefined) continue;
      // A stream dropped (and maybe re-added at a new position) meanwhile: its new cursor reads on.
      const isCurrent = () => this.cursors.get(stream) === cursor && !this.#isStopped;
      largestBody = Math.max(largestBody, await this.#entries.take(cursor, entries, isCurrent));
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
          const cursor = this.cursors.get(stream);
          if (cursor !== undefined) cursor.recheckAt = Date.now() + RECHECK_MS;
        }
      }
      return wrong.size > 0;
    } catch {
      return false;
    }
  }
}
