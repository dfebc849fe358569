import {
  AMQClosedError,
  type AMQExchangeName,
  backoffDelay,
  redactUrl,
  type Transport,
  type TransportContext,
} from '@teal/amq-core';
import { AmqpConnectionError, connectionError, describe } from './errors';
import { Inbox } from './inbox';
import type { AmqpSettings } from './options';
import { Outbox } from './outbox';
import { HandlerQueue } from './queue';
import { AmqpSession, type SessionEvents, untilAborted } from './session';

/** RabbitMQ refuses routing keys longer than this many UTF-8 bytes (a short string). */
export const MAX_ROUTING_KEY_BYTES = 255;

/**
 * The RabbitMQ transport of one handler: it keeps one session (connection,
 * channels) up, opening a new one with backoff whenever the current one is
 * lost, and has the handler's queue reconciled on each before using it.
 */
export class AmqpTransport implements Transport {
  readonly name = '@teal/amq-amqp';
  readonly maxRoutingKeyBytes = MAX_ROUTING_KEY_BYTES;
  readonly appliesBackpressure = true;
  readonly settings: AmqpSettings;
  readonly #context: TransportContext;
  readonly #inbox: Inbox;
  readonly #outbox: Outbox;
  readonly #queue: HandlerQueue;
  /** Waiting for a session: resolved with it, or rejected at their deadline or on close. */
  readonly #waiters = new Set<(session: AmqpSession | Error) => void>();
  #session: AmqpSession | null = null;
  #reconnecting: Promise<void> | null = null;
  #wakeUp: (() => void) | null = null;
  #isClosed = false;
  /** When the current outage began. */
  #lostAt = 0;
  #lostCount = 0;
  /** The session reset because a write on it was overdue: one reset, one warning. */
  #resetting: AmqpSession | null = null;

  private constructor(settings: AmqpSettings, context: TransportContext) {
    this.settings = settings;
    this.#context = context;
    this.#inbox = new Inbox(context, settings.prefetch);
    this.#outbox = new Outbox(context.sendTimeoutMs, (session) => this.#overdue(session));
    this.#queue = new HandlerQueue(settings, context, (message, ack) =>
      this.#inbox.receive(message, ack),
    );
  }

  /** Connects; rejects with an `AmqpConnectionError` (password masked) when the broker cannot be reached. */
  static async open(settings: AmqpSettings, context: TransportContext): Promise<AmqpTransport> {
    const transport = new AmqpTransport(settings, context);
    try {
      if (!transport.#install(await transport.#openSession())) {
        throw new Error('the connection closed as soon as it opened');
      }
    } catch (error) {
      throw connectionError('cannot connect to', settings.givenUrl, error);
    }
    return transport;
  }

  get isConnected(): boolean {
    return this.#session !== null && !this.#session.isEnded;
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
      const session = await this.#connected('bind', signal);
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
    const session = this.isConnected ? this.#session : null;
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
    this.#isClosed = true;
    this.#wakeUp?.();
    const closed = new AMQClosedError('[@teal/amq-amqp] the handler was closed');
    this.#outbox.failAll(closed);
    for (const waiter of this.#waiters) waiter(closed);
    this.#waiters.clear();
    const session = this.#session;
    this.#session = null;
    if (session !== null) {
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
    this.#queue.detach();
    await untilAborted(this.#reconnecting ?? Promise.resolve(), signal, undefined);
  }

  /** What the transport believes it holds on the broker: its queue, consumer and bindings. */
  resources(): readonly string[] {
    return this.#queue.resources();
  }

  /** How many times the connection was lost so far. */
  get lostConnections(): number {
    return this.#lostCount;
  }

  /** For tests: kills the TCP connection without a word to the broker. */
  destroySocket(): void {
    this.#session?.reset();
  }

  /** Opens a session and makes the broker's queue and bindings equal core's on it. */
  async #openSession(): Promise<AmqpSession> {
    // Whatever the previous connection left unacknowledged will be redelivered.
    this.#inbox.connectionLost();
    let session: AmqpSession | null = null;
    const events: SessionEvents = {
      onDrain: () => {
        if (session !== null) this.#outbox.drained(session);
      },
      onLost: (error) => {
        if (session !== null && session === this.#session) this.#lose(error);
      },
      onBlocked: (reason) => {
        if (reason === null) this.#context.logger.warn('RabbitMQ unblocked publishing');
        else this.#context.logger.warn('RabbitMQ blocked publishing', { reason });
      },
      onReturn: (message) => this.#outbox.returned(message),
      onUndecodableHeaders: () => {
        this.#context.logger.warn(
          'dropped the header table of a delivery that could not be decoded; its body goes on alone',
        );
      },
    };
    session = await AmqpSession.open(this.settings, events);
    try {
      await this.#queue.attach(session);
    } catch (error) {
      await session.close(AbortSignal.timeout(1_000));
      throw error;
    }
    return session;
  }

  /** Makes an opened session the current one, unless it died in between (then `false`). */
  #install(session: AmqpSession): boolean {
    if (session.isEnded) return false;
    this.#session = session;
    this.#outbox.attach(session);
    for (const waiter of this.#waiters) waiter(session);
    this.#waiters.clear();
    return true;
  }

  #lose(error: Error): void {
    this.#session = null;
    this.#lostAt = Date.now();
    this.#lostCount++;
    this.#outbox.detach();
    this.#queue.detach();
    this.#inbox.connectionLost();
    this.#context.reportError(
      new AmqpConnectionError(
        `[@teal/amq-amqp] lost the connection to ${redactUrl(this.settings.givenUrl)} (${describe(error)}); reconnecting`,
      ),
    );
    this.#reconnecting ??= this.#reconnect().finally(() => {
      this.#reconnecting = null;
    });
  }

  async #reconnect(): Promise<void> {
    for (let attempt = 0; !this.#isClosed; attempt++) {
      await this.#sleep(backoffDelay(attempt));
      if (this.#isClosed) return;
      let session: AmqpSession;
      try {
        session = await this.#openSession();
      } catch (error) {
        if (attempt === 0 || attempt % 10 === 9) {
          this.#context.reportError(
            connectionError(
              `reconnect attempt ${attempt + 1} failed for`,
              this.settings.givenUrl,
              error,
            ),
          );
        }
        continue;
      }
      if (this.#isClosed) {
        await this.#queue.release(session).catch(() => {});
        await session.close(AbortSignal.timeout(this.#context.sendTimeoutMs));
        return;
      }
      // Receivers that lost the broker too may not be back yet: retry what finds no queue.
      this.#outbox.startGrace(this.settings.reconnectGraceMs);
      if (!this.#install(session)) continue;
      // Keys core unbound while the session was being set up may have been bound on it.
      this.#queue.prune(session).catch(() => {});
      const outageMs = Date.now() - this.#lostAt;
      if (outageMs > this.settings.queueExpiresMs) {
        this.#context.logger.warn(
          'reconnected after an outage longer than queueExpiresMs: the queue may have expired, losing what was sent meanwhile',
          { outageMs, queueExpiresMs: this.settings.queueExpiresMs },
        );
      }
      return;
    }
  }

  /** A message written on this session reached its deadline unconfirmed: the link may be stalled. */
  #overdue(session: AmqpSession): void {
    if (session !== this.#session || session.isEnded || this.#resetting === session) return;
    this.#resetting = session;
    this.#context.logger.warn(
      'a message written to RabbitMQ was not confirmed by its deadline; resetting the connection so that it cannot land late',
    );
    session.reset();
  }

  #prune(): void {
    const session = this.#session;
    if (session !== null && !session.isEnded) this.#queue.prune(session).catch(() => {});
  }

  /** The live session, waiting for a reconnection until `signal` fires. */
  #connected(method: string, signal: AbortSignal): Promise<AmqpSession> {
    if (this.#isClosed) {
      return Promise.reject(new AMQClosedError(`[@teal/amq-amqp] ${method}() after close()`));
    }
    const session = this.#session;
    if (session !== null && !session.isEnded) return Promise.resolve(session);
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<AmqpSession>((resolve, reject) => {
      const onAbort = () => {
        this.#waiters.delete(waiter);
        reject(
          new AmqpConnectionError(
            `[@teal/amq-amqp] ${method}(): no connection to RabbitMQ before the deadline; check that the broker is up`,
            { cause: signal.reason },
          ),
        );
      };
      const waiter = (outcome: AmqpSession | Error) => {
        signal.removeEventListener('abort', onAbort);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(waiter);
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeUp = done;
    });
  }

  #error(what: string, cause: unknown): AmqpConnectionError {
    return connectionError(what, this.settings.givenUrl, cause);
  }
}
