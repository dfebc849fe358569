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
  type AmqpConnectionError,
  AmqpSession,
  connectionError,
  type SessionEvents,
} from './connection';
import { SessionKeeper } from './connection-keeper';
import { Inbox } from './consumer-redeliveries';
import { Outbox } from './publisher';
import { sleep, untilAborted } from './publisher-deadlines';
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

/** RabbitMQ refuses routing keys longer than this many UTF-8 bytes (a short string). */
export const MAX_ROUTING_KEY_BYTES = 255;

/** The events of a session opened only to clean up: nothing to report. */
const quietEvents: SessionEvents = {
  onDrain: () => {},
  onLost: () => {},
  onBlocked: () => {},
  onReturn: () => {},
  onUndecodableHeaders: () => {},
};

/**
 * The RabbitMQ transport of one handler: publishes through the outbox,
 * binds through the handler's queue, and has a keeper hold one session up,
 * reconciling the queue on each before it is used.
 */
export class AmqpTransport implements Transport {
  readonly name = '@teal/amq-amqp';
  readonly maxRoutingKeyBytes = MAX_ROUTING_KEY_BYTES;
  readonly appliesBackpressure = true;
  readonly settings: AmqpSettings;
  readonly #context: TransportContext;
  readonly #outbox: Outbox;
  readonly #queue: HandlerQueue;
  readonly #keeper: SessionKeeper;
  /** The session reset because a write on it was overdue: one reset, one warning. */
  #resetting: AmqpSession | null = null;

  private constructor(settings: AmqpSettings, context: TransportContext) {
    this.settings = settings;
    this.#context = context;
    const inbox = new Inbox(context, settings.prefetch);
    const outbox = new Outbox(context.sendTimeoutMs, (session) => this.#overdue(session));
    const queue = new HandlerQueue(settings, context, (message, ack) =>
      inbox.receive(message, ack),
    );
    this.#outbox = outbox;
    this.#queue = queue;
    this.#keeper = new SessionKeeper(settings, context, {
      prepare: (session) => {
        // Whatever an earlier connection left unacknowledged will be redelivered.
        inbox.connectionLost();
        return queue.attach(session);
      },
      installed: (session, isReconnection) => {
        // Receivers that lost the broker too may not be back yet: retry what finds no queue.
        if (isReconnection) outbox.startGrace(settings.reconnectGraceMs);
        outbox.attach(session);
        // Keys core unbound while the session was being set up may have been bound on it.
        if (isReconnection) queue.prune(session).catch(() => {});
      },
      lost: () => {
        outbox.detach();
        queue.detach();
        inbox.connectionLost();
      },
      discard: (session) => this.#release(session, AbortSignal.timeout(context.sendTimeoutMs)),
      drained: (session) => outbox.drained(session),
      returned: (message) => outbox.returned(message),
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
      throw connectionError('cannot connect to', settings.givenUrl, error);
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
  ): Promise<void> {
    return this.#outbox.publish(exchange, routingKey, body, signal);
  }

  async bind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      const session = await this.#keeper.connected('bind', signal);
      const bound = this.#queue.bind(session, exchange, routingKey);
      try {
        await untilAborted(bound, signal, undefined);
      } catch (error) {
        // A lost session is replaced, and the new one binds every key core has: try there.
        if (!session.isEnded) throw this.#error(`could not bind a key on ${exchange} at`, error);
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
    const session = this.#keeper.current;
    // Without a session the binding stays tracked: the next session removes it.
    const unbound = this.#queue.unbind(session, exchange, routingKey);
    try {
      await untilAborted(unbound, signal, undefined);
    } catch (error) {
      if (session !== null && !session.isEnded) {
        throw this.#error(`could not unbind a key on ${exchange} at`, error);
      }
    }
    unbound.catch(() => {});
    if (signal.aborted) throw signal.reason;
  }

  async close(signal: AbortSignal): Promise<void> {
    const closed = new AMQClosedError('[@teal/amq-amqp] the handler was closed');
    const session = this.#keeper.stop(closed);
    this.#outbox.failAll(closed);
    if (session !== null && !session.isEnded) {
      await this.#release(session, signal);
    } else if (this.#queue.mayExist) {
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

  /** How many times the connection was lost so far. */
  get lostConnections(): number {
    return this.#keeper.lostCount;
  }

  /** For tests: kills the TCP connection without a word to the broker. */
  destroySocket(): void {
    this.#keeper.current?.reset();
  }

  /** Deletes the queue and ends the session, politely until `signal`, then by a reset. */
  async #release(session: AmqpSession, signal: AbortSignal): Promise<void> {
    const released = await untilAborted(
      this.#queue.release(session).then(
        () => true,
        () => false,
      ),
      signal,
      false,
    );
    if (!released) session.reset();
    await session.close(signal);
  }

  /** Connects again, with backoff, only to delete the queue; gives up at `signal`. */
  async #releaseWhenBack(signal: AbortSignal): Promise<void> {
    for (let attempt = 0; !signal.aborted; attempt++) {
      await sleep(backoffDelay(attempt), signal);
      if (signal.aborted) return;
      const opening = AmqpSession.open(this.settings, quietEvents);
      const session = await untilAborted(
        opening.catch(() => null),
        signal,
        null,
      );
      if (session === null) {
        // Not open, or open too late: a connection that opens after the deadline is closed at once.
        opening.then(
          (late) => late.close(AbortSignal.timeout(1_000)),
          () => {},
        );
        continue;
      }
      await this.#release(session, signal);
      return;
    }
  }

  /** A message written on this session reached its deadline unconfirmed: the link may be stalled. */
  #overdue(session: AmqpSession): void {
    if (session !== this.#keeper.current || this.#resetting === session) return;
    this.#resetting = session;
    this.#context.logger.warn(
      'a message written to RabbitMQ was not confirmed by its deadline; resetting the connection so that it cannot land late',
    );
    session.reset();
  }

  #prune(): void {
    const session = this.#keeper.current;
    if (session !== null) this.#queue.prune(session).catch(() => {});
  }

  #error(what: string, cause: unknown): AmqpConnectionError {
    return connectionError(what, this.settings.givenUrl, cause);
  }
}
