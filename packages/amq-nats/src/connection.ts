import { connect, createInbox, type NatsConnection } from '@nats-io/transport-node';
import {
  AMQError,
  AMQSendError,
  backoffDelay,
  type Logger,
  messageOf,
  raceSignal,
  type TransportContext,
} from '@teal/amq-core/adapter';
import { Coalescer } from './connection-retry';
import { socketOf, writeAndFlush } from './connection-socket';
import type { NatsSettings } from './settings';

/**
 * The handler could not connect to NATS, lost its connection for good, or the
 * server reported a problem with it (an error, a slow-consumer flag).
 */
export class NatsConnectionError extends AMQError {
  static override readonly kind: string = 'NatsConnectionError';
  override name = 'NatsConnectionError';
}

/** The server's `max_payload` when it has not said (the nats-server default). */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * A NATS connection that reconnects for ever with jittered backoff, knows
 * whether it is connected from the client's status stream, and coalesces
 * flushes: one PING in flight covers every publish made before it.
 */
export class NatsLink {
  readonly nc: NatsConnection;
  /** The server without credentials: for messages. */
  readonly server: string;
  /** The connection's `inboxPrefix`: where the server may send this handler replies and deliveries. */
  readonly inboxPrefix: string;
  readonly #context: TransportContext;
  readonly #flusher: Coalescer<number>;
  readonly #waiters = new Set<() => void>();
  readonly #reconnectListeners: Array<() => unknown> = [];
  readonly #dropListeners = new Set<() => void>();
  #isConnected = true;
  #isClosing = false;
  /** Disconnections seen so far: tests wait on it to know a drop happened. */
  disconnects = 0;

  private constructor(nc: NatsConnection, settings: NatsSettings, context: TransportContext) {
    this.nc = nc;
    this.#context = context;
    this.server = settings.server;
    this.inboxPrefix = settings.connection.inboxPrefix ?? '';
    this.#flusher = new Coalescer(() => this.#flushOnce());
    void this.#watchStatus();
    void nc.closed().then((error) => this.#onClosed(error instanceof Error ? error : undefined));
  }

  static async open(settings: NatsSettings, context: TransportContext): Promise<NatsLink> {
    let attempt = 0;
    let nc: NatsConnection;
    try {
      nc = await connect({
        maxReconnectAttempts: -1,
        // Called about twice per attempt by the client; the ceiling still grows with the outage.
        reconnectDelayHandler: () => backoffDelay(Math.floor(attempt++ / 2), 100, 2_000),
        pingInterval: 20_000,
        // Otherwise the client builds two errors (stack traces) per request — each JetStream
        // publish is one — to report a timeout that the adapter reports itself: a tenth of
        // the CPU a JetStream send and its delivery take.
        noAsyncTraces: true,
        ...settings.connection,
        reconnect: true,
      });
    } catch (cause) {
      throw new NatsConnectionError(
        `[@teal/amq-nats] cannot connect to ${settings.server} (${messageOf(cause)}): check the url setting and that nats-server runs there`,
        { cause },
      );
    }
    const link = new NatsLink(nc, settings, context);
    link.onReconnect(() => {
      attempt = 0;
    });
    return link;
  }

  /** A new inbox subject under the connection's `inboxPrefix`, as the client's own requests use. */
  inbox(): string {
    return createInbox(this.inboxPrefix);
  }

  get logger(): Logger {
    return this.#context.logger;
  }

  get isConnected(): boolean {
    return this.#isConnected && !this.nc.isClosed();
  }

  /** The largest payload (headers included) the server takes in one message. */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  }

  /**
   * Calls `listener` once the connection `epoch` (a value of `disconnects`)
   * dropped — at once if it already has; returns what stops the watch. A set
   * of listeners rather than a promise per connection: racing every publish
   * against a long-lived promise would keep one reaction per publish alive.
   */
  onDrop(epoch: number, listener: () => void): () => void {
    if (epoch !== this.disconnects || this.#isClosing) {
      listener();
      return () => {};
    }
    this.#dropListeners.add(listener);
    return () => this.#dropListeners.delete(listener);
  }

  /**
   * Runs `listener` after each reconnection, once the client has sent its
   * subscriptions again. What it returns (a promise) is part of the
   * restoration: the handler hears it is connected once every one settled.
   */
  onReconnect(listener: () => unknown): void {
    this.#reconnectListeners.push(listener);
  }

  /**
   * Resolves once the server has processed everything written before the
   * call, with the connection epoch (a value of `disconnects`) that carried
   * the flush; rejects as soon as that connection drops.
   */
  flush(): Promise<number> {
    return this.#flusher.run();
  }

  /**
   * Writes what `publish` publishes (calls of `nc.publish`) and asks the
   * server to confirm it: the promise of `flush()`. `undefined` when the
   * socket was found dead, so that none of it left (see `writeAndFlush`).
   */
  write(publish: () => void): Promise<number> | undefined {
    const { flushed, isUnsent } = writeAndFlush(this.nc, publish, () => this.flush());
    if (!isUnsent) return flushed;
    flushed?.catch(() => {});
    return undefined;
  }

  /** Resolves once the connection `epoch` dropped; rejects with `signal`'s reason first if it fires. */
  untilDropped(epoch: number, signal: AbortSignal): Promise<void> {
    return raceSignal(new Promise<void>((resolve) => this.onDrop(epoch, resolve)), signal);
  }

  /** Waits until connected; rejects with `signal`'s reason when it fires, or when the link closes. */
  waitConnected(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.isConnected) return Promise.resolve();
    if (this.#isClosing || this.nc.isClosed()) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => {
      const wake = () => {
        this.#waiters.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        if (this.isConnected) resolve();
        else reject(this.#closedError());
      };
      const onAbort = () => {
        this.#waiters.delete(wake);
        reject(signal?.reason);
      };
      this.#waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Drops the connection `epoch` (a value of `disconnects`) at once if it is
   * still the current one: a TCP reset, so that nothing the socket still
   * holds reaches the server later. For a publish whose deadline passed while
   * it was unconfirmed: on a connection that stopped answering, its bytes may
   * still be queued, and would land long after its sender was told it failed.
   * The client reconnects by itself.
   */
  abandon(epoch: number, reason: string): void {
    if (epoch !== this.disconnects || !this.isConnected) return;
    const socket = socketOf(this.nc);
    if (socket?.destroyed === true) return;
    this.#context.logger.warn(`${reason}; resetting the connection`, { server: this.server });
    // Lost from now on, before the client notices: nothing more is written to it.
    this.#isConnected = false;
    if (socket !== undefined) socket.resetAndDestroy();
    else void this.nc.reconnect().catch(() => {});
  }

  /** Closes the connection politely; past `signal`, drops it. */
  async close(signal?: AbortSignal): Promise<void> {
    this.#isClosing = true;
    this.#isConnected = false;
    this.#wakeAll();
    this.#dropped();
    const closing = this.nc.close();
    if (signal === undefined) return closing;
    const onAbort = () => socketOf(this.nc)?.destroy();
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      await closing;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async #watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      switch (status.type) {
        case 'disconnect':
          this.#isConnected = false;
          this.disconnects++;
          this.#dropped();
          this.#context.logger.warn('lost the connection to NATS; reconnecting', {
            server: this.server,
          });
          this.#context.connectionChanged(
            false,
            new NatsConnectionError(
              `[@teal/amq-nats] lost the connection to ${this.server}; reconnecting`,
            ),
          );
          break;
        case 'reconnect':
          this.#isConnected = true;
          this.#context.logger.info('reconnected to NATS', { server: this.server });
          this.#wakeAll();
          void this.#restore(this.disconnects);
          break;
        case 'error':
          this.#report('the NATS server reported an error', status.error);
          break;
        case 'slowConsumer':
          this.#report('the NATS server flagged the handler as a slow consumer', undefined);
          break;
        case 'ldm':
          this.#context.logger.warn('the NATS server is shutting down (lame duck mode)', {
            server: this.server,
          });
          break;
        default:
          break;
      }
    }
  }

  /**
   * Restores what the handler holds after reconnection `epoch`, and tells the
   * handler it is connected once the server has it all: the listeners' work
   * done, then a flush answered after the client's subscriptions. A drop
   * meanwhile leaves it to the next reconnection.
   */
  async #restore(epoch: number): Promise<void> {
    await Promise.allSettled(this.#reconnectListeners.map(async (listener) => listener()));
    try {
      await this.flush();
    } catch {
      return;
    }
    if (epoch === this.disconnects && this.isConnected && !this.#isClosing) {
      this.#context.connectionChanged(true);
    }
  }

  #onClosed(error: Error | undefined): void {
    this.#isConnected = false;
    this.#wakeAll();
    this.#dropped();
    if (!this.#isClosing) {
      const closed = new NatsConnectionError(
        `[@teal/amq-nats] the connection to ${this.server} closed for good: make a new handler`,
        { cause: error },
      );
      this.#context.reportError(closed);
      this.#context.connectionChanged(false, closed);
    }
  }

  #report(message: string, cause: unknown): void {
    // The server's own text may quote subjects, which hold routing keys: it stays in `cause`.
    this.#context.reportError(new NatsConnectionError(`[@teal/amq-nats] ${message}`, { cause }));
  }

  #dropped(): void {
    const listeners = [...this.#dropListeners];
    this.#dropListeners.clear();
    for (const listener of listeners) listener();
  }

  #wakeAll(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  #flushOnce(): Promise<number> {
    const epoch = this.disconnects;
    return new Promise((resolve, reject) => {
      const stop = this.onDrop(epoch, () =>
        reject(
          new NatsConnectionError(
            `[@teal/amq-nats] the connection to ${this.server} dropped before the server answered`,
          ),
        ),
      );
      this.nc.flush().then(
        () => {
          stop();
          resolve(epoch);
        },
        (error: unknown) => {
          stop();
          reject(error);
        },
      );
    });
  }

  #closedError(): AMQError {
    return new AMQSendError(`[@teal/amq-nats] the connection to ${this.server} is closed`);
  }
}
