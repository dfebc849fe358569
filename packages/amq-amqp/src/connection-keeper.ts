import {
  AMQClosedError,
  backoffDelay,
  messageOf,
  redactUrl,
  type TransportContext,
} from '@teal/amq-core/adapter';
import type { Message } from 'amqplib';
import { AmqpConnection, AmqpConnectionError, connectionError } from './connection';
import { sleep } from './deadlines';
import type { AmqpSettings } from './settings';

/** What the transport does with the connections the keeper opens. */
export interface ConnectionHooks {
  /** Readies a new connection before it is used (the queue reconciled); rejecting discards it. */
  prepare(connection: AmqpConnection): Promise<void>;
  /**
   * The connection is the current one now; `isReconnection` after a loss.
   * Resolves once the broker holds exactly core's bindings.
   */
  installed(connection: AmqpConnection, isReconnection: boolean): Promise<void>;
  /** The current connection was lost; a new one is on its way. */
  lost(): void;
  /** A connection opened after `stop()`: release what it holds and close it. */
  discard(connection: AmqpConnection): Promise<void>;
  drained(connection: AmqpConnection): void;
  returned(message: Message): void;
  undecodableHeaders(): void;
}

/**
 * Keeps one connection up: opens the first, and whenever the current one is
 * lost, reports it and opens a new one with jittered backoff until `stop()`.
 * With several seed nodes it starts at a random one (so that handlers spread
 * over the cluster) and each attempt tries the next, so that the first
 * attempt after a loss goes to another node than the one lost.
 * Calls that need a connection wait for it until their deadline. The handler
 * hears `connectionChanged(false)` at the loss and `connectionChanged(true)`
 * once a new connection holds its bindings again.
 */
export class ConnectionKeeper {
  readonly #settings: AmqpSettings;
  readonly #context: TransportContext;
  readonly #hooks: ConnectionHooks;
  /** Waiting for a connection: handed it, or an error at their deadline or on stop. */
  readonly #waiters = new Set<(outcome: AmqpConnection | Error) => void>();
  readonly #stopped = new AbortController();
  #connection: AmqpConnection | null = null;
  #reconnecting: Promise<void> | null = null;
  /** When the current outage began. */
  #lostAt = 0;
  #lostCount = 0;
  /** The seed node the next attempt tries. */
  #seed: number;

  constructor(settings: AmqpSettings, context: TransportContext, hooks: ConnectionHooks) {
    this.#settings = settings;
    this.#context = context;
    this.#hooks = hooks;
    this.#seed = Math.floor(Math.random() * settings.urls.length);
  }

  /**
   * Opens the first connection, trying each seed node once; rejects, with
   * each node's reason, if none can be reached.
   */
  async start(): Promise<void> {
    const failures: Array<readonly [node: string, error: unknown]> = [];
    for (const _ of this.#settings.urls) {
      const seed = this.nextSeed();
      let connection: AmqpConnection;
      try {
        connection = await this.#open(seed);
      } catch (error) {
        failures.push([this.#settings.nodes[seed]!, error]);
        continue;
      }
      if (this.#install(connection, false) === null) {
        throw new Error('the connection closed as soon as it opened');
      }
      return;
    }
    // One node: its error, as amqplib gave it; several: each node's reason.
    if (failures.length === 1) throw failures[0]![1];
    throw new Error(failures.map(([node, error]) => `${node}: ${messageOf(error)}`).join('; '));
  }

  /** The seed node to try next, each in turn. */
  nextSeed(): number {
    const seed = this.#seed;
    this.#seed = (seed + 1) % this.#settings.urls.length;
    return seed;
  }

  /** The current connection, if it is alive. */
  get current(): AmqpConnection | null {
    const connection = this.#connection;
    return connection !== null && !connection.isEnded ? connection : null;
  }

  /** How many times the connection was lost so far. */
  get lostCount(): number {
    return this.#lostCount;
  }

  /** The live connection, waiting for a reconnection until `signal` fires. */
  connected(method: string, signal: AbortSignal): Promise<AmqpConnection> {
    if (this.#stopped.signal.aborted) {
      return Promise.reject(new AMQClosedError(`[@teal/amq-amqp] ${method}() after close()`));
    }
    const connection = this.current;
    if (connection !== null) return Promise.resolve(connection);
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<AmqpConnection>((resolve, reject) => {
      const onAbort = () => {
        this.#waiters.delete(waiter);
        reject(
          new AmqpConnectionError(
            `[@teal/amq-amqp] ${method}(): no connection to RabbitMQ before the deadline; check that the broker is up`,
            { cause: signal.reason },
          ),
        );
      };
      const waiter = (outcome: AmqpConnection | Error) => {
        signal.removeEventListener('abort', onAbort);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  /** Stops reconnecting and fails what waits; returns the connection that was current. */
  stop(error: Error): AmqpConnection | null {
    this.#stopped.abort();
    for (const waiter of this.#waiters) waiter(error);
    this.#waiters.clear();
    const connection = this.#connection;
    this.#connection = null;
    return connection;
  }

  /** Settles once a reconnection under way gave up or handed its connection to `discard`. */
  get settled(): Promise<void> {
    return this.#reconnecting ?? Promise.resolve();
  }

  async #open(seed: number): Promise<AmqpConnection> {
    let connection: AmqpConnection | null = null;
    const hooks = this.#hooks;
    connection = await AmqpConnection.open(this.#settings, seed, {
      onDrain: () => {
        if (connection !== null) hooks.drained(connection);
      },
      onLost: (error) => {
        if (connection !== null && connection === this.#connection) this.#lose(error);
      },
      onBlocked: (reason) => {
        if (reason === null) this.#context.logger.warn('RabbitMQ unblocked publishing');
        else this.#context.logger.warn('RabbitMQ blocked publishing', { reason });
      },
      onReturn: (message) => hooks.returned(message),
      onUndecodableHeaders: () => hooks.undecodableHeaders(),
    });
    try {
      await hooks.prepare(connection);
    } catch (error) {
      await connection.close(AbortSignal.timeout(1_000));
      throw error;
    }
    return connection;
  }

  /**
   * Makes an opened connection the current one and hands it to what waits;
   * returns when the broker holds core's bindings again, or `null` if it died
   * in between.
   */
  #install(connection: AmqpConnection, isReconnection: boolean): Promise<void> | null {
    if (connection.isEnded) return null;
    this.#connection = connection;
    const restored = this.#hooks.installed(connection, isReconnection);
    for (const waiter of this.#waiters) waiter(connection);
    this.#waiters.clear();
    return restored;
  }

  #lose(cause: Error): void {
    const node = this.#connection?.node;
    this.#connection = null;
    this.#lostAt = Date.now();
    this.#lostCount++;
    this.#hooks.lost();
    const { nodes, givenUrl } = this.#settings;
    const where = nodes.length > 1 ? `${node} of ${redactUrl(givenUrl)}` : redactUrl(givenUrl);
    const error = new AmqpConnectionError(
      `[@teal/amq-amqp] lost the connection to ${where} (${messageOf(cause)}); reconnecting`,
    );
    this.#context.connectionChanged(false, error);
    this.#context.reportError(error);
    this.#reconnecting ??= this.#reconnect().finally(() => {
      this.#reconnecting = null;
    });
  }

  async #reconnect(): Promise<void> {
    const stopped = this.#stopped.signal;
    for (let attempt = 0; !stopped.aborted; attempt++) {
      await sleep(backoffDelay(attempt), stopped);
      if (stopped.aborted) return;
      const seed = this.nextSeed();
      let connection: AmqpConnection;
      try {
        connection = await this.#open(seed);
      } catch (error) {
        if (attempt === 0 || attempt % 10 === 9) {
          this.#context.reportError(
            connectionError(
              `reconnect attempt ${attempt + 1} failed for`,
              this.#settings,
              error,
              this.#settings.nodes.length > 1 ? this.#settings.nodes[seed] : undefined,
            ),
          );
        }
        continue;
      }
      if (stopped.aborted) {
        await this.#hooks.discard(connection);
        return;
      }
      const restored = this.#install(connection, true);
      if (restored === null) continue;
      await restored.catch(() => {});
      // Lost again while its bindings were being restored: this loop is the one to go on.
      if (this.current !== connection) continue;
      const outageMs = Date.now() - this.#lostAt;
      if (outageMs > this.#settings.queueExpiresMs) {
        this.#context.logger.warn(
          'reconnected after an outage longer than queueExpiresMs: the queue may have expired, losing what was sent meanwhile',
          { outageMs, queueExpiresMs: this.#settings.queueExpiresMs },
        );
      }
      this.#context.connectionChanged(true);
      return;
    }
  }
}
