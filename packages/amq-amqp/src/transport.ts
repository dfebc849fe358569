import {
  AMQClosedError,
  type AMQExchangeName,
  type AMQHandler,
  backoffDelay,
  createHandler,
  type Transport,
  type TransportContext,
} from '@teal/amq-core/adapter';
import { HandlerQueue } from './bindings';
import {
  AmqpConnection,
  type AmqpConnectionError,
  type ConnectionEvents,
  connectionError,
} from './connection';
import { ConnectionKeeper } from './connection-keeper';
import { sleep, untilAborted } from './deadlines';
import { boundHeaders } from './headers';
import { MAX_ROUTING_KEY_BYTES } from './names';
import { Publisher } from './publisher';
import { type AmqpConnectOptions, type AmqpSettings, resolveSettings } from './settings';

/**
 * Connects a handler to RabbitMQ. Resolves once the exchanges and the
 * handler's queue are declared and its consumer runs; rejects with an
 * `AmqpConnectionError` (password masked) when the broker cannot be reached.
 */
export async function connect(options: AmqpConnectOptions): Promise<AMQHandler> {
  const settings = resolveSettings(options);
  return createHandler((context) => AmqpTransport.open(settings, context), options);
}

/** The events of a connection opened only to clean up: nothing to report. */
const quietEvents: ConnectionEvents = {
  onDrain: () => {},
  onLost: () => {},
  onBlocked: () => {},
  onReturn: () => {},
  onUndecodableHeaders: () => {},
};

/**
 * The RabbitMQ transport of one handler: publishes through the publisher,
 * binds through the handler's queue, and has a keeper hold one connection
 * up, reconciling the queue on each before it is used.
 */
export class AmqpTransport implements Transport {
  readonly name = '@teal/amq-amqp';
  readonly maxRoutingKeyBytes = MAX_ROUTING_KEY_BYTES;
  readonly appliesBackpressure = true;
  readonly settings: AmqpSettings;
  readonly #context: TransportContext;
  readonly #publisher: Publisher;
  readonly #queue: HandlerQueue;
  readonly #keeper: ConnectionKeeper;
  /** The connection reset because a write on it was overdue: one reset, one warning. */
  #resetting: AmqpConnection | null = null;

  private constructor(settings: AmqpSettings, context: TransportContext) {
    this.settings = settings;
    this.#context = context;
    const publisher = new Publisher(context.sendTimeoutMs, (connection) =>
      this.#overdue(connection),
    );
    const queue = new HandlerQueue(settings, context);
    this.#publisher = publisher;
    this.#queue = queue;
    this.#keeper = new ConnectionKeeper(settings, context, {
      prepare: (connection) => queue.attach(connection),
      installed: async (connection, isReconnection) => {
        // Receivers that lost the broker too may not be back yet: retry what finds no queue.
        if (isReconnection) publisher.startGrace(settings.reconnectGraceMs);
        publisher.attach(connection);
        // Keys core unbound while the connection was being set up may have been bound on it.
        if (isReconnection) await queue.prune(connection);
      },
      lost: () => {
        publisher.detach();
        queue.detach();
      },
      discard: async (connection) => {
        await this.#release(connection, AbortSignal.timeout(context.sendTimeoutMs));
      },
      drained: (connection) => publisher.drained(connection),
      returned: (message) => publisher.returned(message),
      undecodableHeaders: () =>
        context.logger.warn(
          'dropped the header table of a delivery that could not be decoded; its body goes on alone',
        ),
    });
  }

  /** Connects; rejects with an `AmqpConnectionError` (password masked) when the broker cannot be reached. */
  static async open(settings: AmqpSettings, context: TransportContext): Promise<AmqpTransport> {
    const transport = new AmqpTransport(settings, context);
    try {
      await transport.#keeper.start();
    } catch (error) {
      throw connectionError('cannot connect to', settings, error);
    }
    return transport;
  }

  get isConnected(): boolean {
    return this.#keeper.current !== null;
  }

  publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    signal: AbortSignal,
    headers?: Readonly<Record<string, string>>,
  ): Promise<void> {
    if (headers === undefined) {
      return this.#publisher.publish(exchange, routingKey, body, signal, undefined);
    }
    const bounded = boundHeaders(headers);
    if (bounded.isTrimmed) {
      this.#context.logger.warn(
        'left out headers of a message past their bounds; its body goes on',
        { exchange },
      );
    }
    return this.#publisher.publish(exchange, routingKey, body, signal, bounded.headers);
  }

  async bind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      const connection = await this.#keeper.connected('bind', signal);
      const bound = this.#queue.bind(connection, exchange, routingKey);
      try {
        await untilAborted(bound, signal, undefined);
      } catch (error) {
        // A lost connection is replaced, and the new one binds every key core has: try there.
        if (!connection.isEnded) throw this.#error(`could not bind a key on ${exchange} at`, error);
        continue;
      }
      if (signal.aborted) {
        // Core drops the key when this rejects: unbind it if the late bind lands.
        bound.then(
          () => this.#prune(),
          () => {},
        );
        throw signal.reason;
      }
      return;
    }
  }

  async unbind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void> {
    const connection = this.#keeper.current;
    // Without a connection the binding stays tracked: the next connection removes it.
    const unbound = this.#queue.unbind(connection, exchange, routingKey);
    try {
      await untilAborted(unbound, signal, undefined);
    } catch (error) {
      if (connection !== null && !connection.isEnded) {
        throw this.#error(`could not unbind a key on ${exchange} at`, error);
      }
    }
    unbound.catch(() => {});
    if (signal.aborted) throw signal.reason;
  }

  async close(signal: AbortSignal): Promise<void> {
    const closed = new AMQClosedError('[@teal/amq-amqp] the handler was closed');
    const connection = this.#keeper.stop(closed);
    this.#publisher.failAll(closed);
    const isReleased =
      connection !== null && !connection.isEnded && (await this.#release(connection, signal));
    if (!isReleased && this.#queue.mayExist) {
      // In an outage: the queue would wait for x-expires. Until the deadline, try to delete it.
      await this.#releaseWhenBack(signal);
    }
    this.#queue.detach();
    await untilAborted(this.#keeper.settled, signal, undefined);
  }

  /** What the transport believes it holds on the broker: its queue, consumer and bindings. */
  resources(): readonly string[] {
    return this.#queue.resources();
  }

  /** The node the handler is connected to (`host:port` of a seed), or `null` in an outage. */
  get node(): string | null {
    return this.#keeper.current?.node ?? null;
  }

  /** How many times the connection was lost so far. */
  get lostConnections(): number {
    return this.#keeper.lostCount;
  }

  /** For tests: kills the TCP connection without a word to the broker. */
  destroySocket(): void {
    this.#keeper.current?.reset();
  }

  /**
   * Deletes the queue and ends the connection, politely until `signal`, then
   * by a reset; resolves to whether the queue is gone.
   */
  async #release(connection: AmqpConnection, signal: AbortSignal): Promise<boolean> {
    const released = await untilAborted(
      this.#queue.release(connection).then(
        () => true,
        () => false,
      ),
      signal,
      false,
    );
    if (!released) connection.reset();
    await connection.close(signal);
    return released;
  }

  /** Connects again, with backoff, only to delete the queue; gives up at `signal`. */
  async #releaseWhenBack(signal: AbortSignal): Promise<void> {
    for (let attempt = 0; !signal.aborted; attempt++) {
      await sleep(backoffDelay(attempt), signal);
      if (signal.aborted) return;
      const opening = AmqpConnection.open(this.settings, this.#keeper.nextSeed(), quietEvents);
      const connection = await untilAborted(
        opening.catch(() => null),
        signal,
        null,
      );
      if (connection === null) {
        // Not open, or open too late: a connection that opens after the deadline is closed at once.
        opening.then(
          (late) => late.close(AbortSignal.timeout(1_000)),
          () => {},
        );
        continue;
      }
      if (await this.#release(connection, signal)) return;
    }
  }

  /** A message written on this connection reached its deadline unconfirmed: the link may be stalled. */
  #overdue(connection: AmqpConnection): void {
    if (connection !== this.#keeper.current || this.#resetting === connection) return;
    this.#resetting = connection;
    this.#context.logger.warn(
      'a message written to RabbitMQ was not confirmed by its deadline; resetting the connection so that it cannot land late',
    );
    connection.reset();
  }

  #prune(): void {
    const connection = this.#keeper.current;
    if (connection !== null) this.#queue.prune(connection).catch(() => {});
  }

  #error(what: string, cause: unknown): AmqpConnectionError {
    return connectionError(what, this.settings, cause);
  }
}
