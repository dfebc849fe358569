import { setMaxListeners } from 'node:events';
import { untilAborted } from './abort';
import { closeClient, type RedisClient } from './clients';
import { ServerClock } from './clock';
import { ReadyGate } from './gate';
import { APPEND_SCRIPT } from './scripts';

/** How long before its caller's deadline a write stops being accepted: room for its reply to come back in time. */
const MAX_REPLY_MARGIN_MS = 250;

/**
 * A handler's connection for writes and binds: commands wait at a gate while
 * it is down, each write carries its deadline for Redis to check, and a
 * heartbeat both keeps the server clock's offset fresh and, with the
 * connection's `socketTimeout`, notices a link that went silent.
 */
export class CommandConnection {
  readonly client: RedisClient;
  readonly #gate: ReadyGate;
  readonly #clock: ServerClock;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #closed = new AbortController();
  readonly #lastIds = new Map<string, Promise<string>>();
  #epoch = 0;
  #isMeasuring = false;
  #isCorked = false;

  /**
   * `clockKey`: a key of the prefix's slot, never written, whose node's clock
   * judges the deadlines. `heartbeatMs`: how often the connection is probed.
   */
  constructor(client: RedisClient, clockKey: string, heartbeatMs: number) {
    this.client = client;
    // Every command in flight listens to it, and thousands may be: not a leak.
    setMaxListeners(0, this.#closed.signal);
    this.#gate = new ReadyGate(client);
    this.#clock = new ServerClock(client, clockKey);
    // Each (re)connection measures the server clock before anything waiting is written.
    client.on('ready', () => this.#whenReady());
    client.on('close', () => {
      this.#epoch++;
      this.#gate.shut();
      this.#clock.forget();
    });
    this.#heartbeat = setInterval(() => this.#probe(), heartbeatMs);
    this.#heartbeat.unref();
  }

  /**
   * Runs `operation` once the connection is usable, unless `signal` fires
   * first; settles when `signal` fires, whatever Redis does.
   */
  run<T>(operation: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return untilAborted(this.#gate.run(operation, signal), signal, this.#closed.signal);
  }

  /**
   * Appends an entry, refused by Redis itself if it arrives after
   * `deadlineMs` (local clock) less a margin for the reply to come back.
   * Never written at all once `signal` fired.
   */
  append(
    stream: string,
    maxLength: number,
    retentionMs: number,
    deadlineMs: number,
    timeoutMs: number,
    fields: readonly (string | Buffer)[],
    signal: AbortSignal,
  ): Promise<void> {
    return this.run(async () => {
      // A command the gate released on the tick its signal fired must still not be written.
      if (signal.aborted) throw signal.reason;
      const margin = Math.min(MAX_REPLY_MARGIN_MS, timeoutMs / 10);
      const deadline = this.#clock.toServer(deadlineMs - margin);
      this.#coalesceWrites();
      // biome-ignore format: the arguments read as the script's KEYS and ARGV
      await this.client.eval(APPEND_SCRIPT, 1, stream, maxLength, retentionMs, deadline, ...fields);
    }, signal);
  }

  /** The id of the stream's last entry (`0-0` if none); calls in one tick share one XREVRANGE per stream. */
  lastId(stream: string, signal: AbortSignal): Promise<string> {
    let lastId = this.#lastIds.get(stream);
    if (lastId === undefined) {
      lastId = this.run(async () => {
        const entries = await this.client.xrevrange(stream, '+', '-', 'COUNT', 1);
        return entries[0]?.[0] ?? '0-0';
      }, signal);
      this.#lastIds.set(stream, lastId);
      // Shared only by binds made before the command could reach Redis.
      process.nextTick(() => this.#lastIds.delete(stream));
    }
    return untilAborted(lastId, signal);
  }

  /** Rejects what waits with `error`, then closes politely, or at once when `signal` fires. */
  async close(error: Error, signal: AbortSignal): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#gate.close(error);
    this.#closed.abort(error);
    await closeClient(this.client, signal);
  }

  #whenReady(): void {
    const epoch = this.#epoch;
    this.#isMeasuring = true;
    this.#clock
      .measure()
      .catch(() => {
        // A connection that died meanwhile measures again when it is back; on a live one, the
        // last offset stands (a server that refuses EVAL refuses every write anyway).
      })
      .finally(() => {
        this.#isMeasuring = false;
        if (epoch === this.#epoch && !this.#closed.signal.aborted) this.#gate.open();
      });
  }

  /** A command now and then, so that `socketTimeout` sees a link that died while idle. */
  #probe(): void {
    if (this.#isMeasuring || this.client.status !== 'ready') return;
    this.#isMeasuring = true;
    this.#clock
      .measure()
      .catch(() => {})
      .finally(() => {
        this.#isMeasuring = false;
      });
  }

  /**
   * Holds the socket's writes until the end of the tick, so that the sends of
   * one tick leave in one write instead of a system call each. Unlike
   * ioredis's auto-pipelining, every command stays a command of its own, which
   * ioredis resends on its own after a reconnect.
   */
  #coalesceWrites(): void {
    const socket = (
      this.client as { stream?: { cork?(): void; uncork?(): void; writable?: boolean } }
    ).stream;
    if (this.#isCorked || socket?.writable !== true || typeof socket.cork !== 'function') return;
    this.#isCorked = true;
    socket.cork();
    process.nextTick(() => {
      this.#isCorked = false;
      socket.uncork?.();
    });
  }
}
