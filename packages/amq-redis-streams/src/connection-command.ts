import { setMaxListeners } from 'node:events';
import { raceSignal } from '@teal/amq-core/adapter';
import { Cluster, type Redis } from 'ioredis';
import { closeClient, type RedisClient } from './connection';
import { ServerClock } from './connection-clock';
import { ReadyGate } from './connection-gate';

/**
 * A handler's connection for writes and binds: commands wait at a gate while
 * it is down, and a heartbeat both keeps the server clock's offset fresh and,
 * with the connection's `socketTimeout`, notices a link that went silent.
 */
export class CommandConnection {
  readonly client: RedisClient;
  /** Redis's clock as seen from here: what turns a local deadline into one Redis checks. */
  readonly clock: ServerClock;
  readonly #gate: ReadyGate;
  readonly #heartbeat: NodeJS.Timeout;
  /** Fires on close: what runs settles then, whatever Redis does. */
  readonly #closed = new AbortController();
  readonly #onUsable: () => void;
  #epoch = 0;
  #losses = 0;
  #isMeasuring = false;
  #isCorked = false;

  /**
   * `clockKey`: a key of the prefix's slot, never written, whose node's clock
   * judges the deadlines. `heartbeatMs`: how often the connection is probed.
   * `onUsable`: called each time commands go out again.
   */
  constructor(client: RedisClient, clockKey: string, heartbeatMs: number, onUsable: () => void) {
    this.client = client;
    this.#onUsable = onUsable;
    // Every command in flight listens to it, and thousands may be: not a leak.
    setMaxListeners(0, this.#closed.signal);
    this.#gate = new ReadyGate(client);
    this.clock = new ServerClock(client, clockKey);
    // Each (re)connection measures the server clock before anything waiting is written.
    client.on('ready', () => this.#whenReady());
    client.on('close', () => {
      this.#epoch++;
      this.#gate.shut();
      this.clock.forget();
    });
    this.#onEachConnection('close', () => this.#losses++);
    this.#heartbeat = setInterval(() => this.#probe(), heartbeatMs);
    this.#heartbeat.unref();
  }

  /**
   * How many connections closed so far — of a cluster, node connections
   * too: a command written at one count and failed at another crossed a
   * reconnect, and ioredis sent it again.
   */
  get losses(): number {
    return this.#losses;
  }

  /**
   * Calls `listener` each time a connection is made, before ioredis sends
   * again what the last one left unanswered (a ready check, one round trip,
   * comes between).
   */
  onConnect(listener: () => void): void {
    this.#onEachConnection('connect', listener);
  }

  /** Whether commands go out now: connected, and the server clock measured. */
  get isUsable(): boolean {
    return this.#gate.isUsable;
  }

  /**
   * Runs `operation` once the connection is usable, in call order, unless
   * `signal` fires first (then it never runs); nothing listens to `signal`
   * when it runs at once. What `operation` returns settles it.
   */
  whenUsable<T>(operation: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return this.#gate.run(operation, signal);
  }

  /** As `whenUsable`, and settles when `signal` fires or the connection closes, whatever Redis does. */
  run<T>(operation: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return raceSignal(raceSignal(this.#gate.run(operation, signal), signal), this.#closed.signal);
  }

  /** Rejects what waits with `error`, then closes politely, or at once when `signal` fires. */
  async close(error: Error, signal: AbortSignal): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#gate.close(error);
    this.#closed.abort(error);
    await closeClient(this.client, signal);
  }

  /**
   * Holds the socket's writes until the end of the tick, so that the sends of
   * one tick leave in one write instead of a system call each. Unlike
   * ioredis's auto-pipelining, every command stays a command of its own, which
   * ioredis resends on its own after a reconnect.
   */
  coalesceWrites(): void {
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

  /** On a cluster, each node's connection resends what it had in flight: events of each count. */
  #onEachConnection(event: 'connect' | 'close', listener: () => void): void {
    if (this.client instanceof Cluster) {
      this.client.on('+node', (node: Redis) => node.on(event, listener));
    } else {
      this.client.on(event, listener);
    }
  }

  #whenReady(): void {
    const epoch = this.#epoch;
    this.#isMeasuring = true;
    this.clock
      .measure()
      .catch(() => {
        // A connection that died meanwhile measures again when it is back; on a live one, the
        // last offset stands (a server that refuses EVAL refuses every write anyway).
      })
      .finally(() => {
        this.#isMeasuring = false;
        if (epoch !== this.#epoch || this.#closed.signal.aborted) return;
        this.#gate.open();
        this.#onUsable();
      });
  }

  /** A command now and then, so that `socketTimeout` sees a link that died while idle. */
  #probe(): void {
    if (this.#isMeasuring || this.client.status !== 'ready') return;
    this.#isMeasuring = true;
    this.clock
      .measure()
      .catch(() => {})
      .finally(() => {
        this.#isMeasuring = false;
      });
  }
}
