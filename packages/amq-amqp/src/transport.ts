import {
  AMQClosedError,
  type AMQExchangeName,
  backoffDelay,
  redactUrl,
  type Transport,
  type TransportContext,
} from '@teal/amq-core/adapter';
import { AmqpConnectionError, connectionError, describe } from './errors';
import { Inbox } from './inbox';
import type { AmqpSettings } from './options';
import { Outbox } from './outbox';
import { AmqpSession, type SessionEvents } from './session';

/** RabbitMQ refuses routing keys longer than this many UTF-8 bytes (a short string). */
export const MAX_ROUTING_KEY_BYTES = 255;

type Binding = readonly [AMQExchangeName, string];

interface SessionWaiter {
  readonly resolve: (session: AmqpSession) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The RabbitMQ transport of one handler: it keeps one session (connection,
 * channels, queue, consumer) up, opening a new one with backoff whenever the
 * current one is lost, and restores every binding on it.
 */
export class AmqpTransport implements Transport {
  readonly name = '@teal/amq-amqp';
  readonly maxRoutingKeyBytes = MAX_ROUTING_KEY_BYTES;
  readonly settings: AmqpSettings;
  readonly #context: TransportContext;
  readonly #inbox: Inbox;
  readonly #outbox: Outbox;
  readonly #waiters = new Set<SessionWaiter>();
  #session: AmqpSession | null = null;
  #reconnecting: Promise<void> | null = null;
  #wakeUp: (() => void) | null = null;
  #isClosed = false;
  /** When the current outage began. */
  #lostAt = 0;
  #lostCount = 0;

  private constructor(settings: AmqpSettings, context: TransportContext) {
    this.settings = settings;
    this.#context = context;
    this.#inbox = new Inbox(context, settings.prefetch);
    this.#outbox = new Outbox(context.sendTimeoutMs);
  }

  /** Connects; rejects with an `AmqpConnectionError` (password masked) when the broker cannot be reached. */
  static async open(settings: AmqpSettings, context: TransportContext): Promise<AmqpTransport> {
    const transport = new AmqpTransport(settings, context);
    try {
      if (!transport.#install(await transport.#openSession([]))) {
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

  publish(exchange: AMQExchangeName, routingKey: string, body: string | Uint8Array): Promise<void> {
    return this.#outbox.publish(exchange, routingKey, body);
  }

  async bind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    const deadline = Date.now() + this.#context.sendTimeoutMs;
    for (;;) {
      const session = await this.#connected('bind', deadline);
      try {
        await session.bind(exchange, routingKey);
        return;
      } catch (error) {
        // A lost session is replaced, and the new one binds every key: try there.
        if (!session.isEnded) throw this.#error(`could not bind a key on ${exchange} at`, error);
      }
    }
  }

  async unbind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    const session = this.#session;
    // Without a session there is nothing to undo: the next one binds only what core still has.
    if (session === null || session.isEnded) return;
    try {
      await session.unbind(exchange, routingKey);
    } catch (error) {
      if (!session.isEnded) throw this.#error(`could not unbind a key on ${exchange} at`, error);
    }
  }

  async close(): Promise<void> {
    this.#isClosed = true;
    this.#wakeUp?.();
    const closed = new AMQClosedError('[@teal/amq-amqp] the handler was closed');
    this.#outbox.failAll(closed);
    for (const waiter of this.#waiters) waiter.reject(closed);
    this.#waiters.clear();
    const session = this.#session;
    this.#session = null;
    if (session !== null) await session.close({ deleteQueue: true });
    await this.#reconnecting;
  }

  /** How many times the connection was lost so far. */
  get lostConnections(): number {
    return this.#lostCount;
  }

  /** For tests: kills the TCP connection without a word to the broker. */
  destroySocket(): void {
    this.#session?.destroySocket();
  }

  async #openSession(bindings: readonly Binding[]): Promise<AmqpSession> {
    // Whatever the previous connection left unacknowledged will be redelivered.
    this.#inbox.connectionLost();
    let session: AmqpSession | null = null;
    const events: SessionEvents = {
      onMessage: (message, ack) => this.#inbox.receive(message, ack),
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
    };
    session = await AmqpSession.open(this.settings, events, bindings);
    return session;
  }

  /** Makes an opened session the current one, unless it died in between (then `false`). */
  #install(session: AmqpSession): boolean {
    if (session.isEnded) return false;
    this.#session = session;
    this.#outbox.attach(session);
    for (const waiter of this.#waiters) waiter.resolve(session);
    this.#waiters.clear();
    return true;
  }

  #lose(error: Error): void {
    this.#session = null;
    this.#lostAt = Date.now();
    this.#lostCount++;
    this.#outbox.detach();
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
      const bindings = [...this.#context.bindings()];
      let session: AmqpSession;
      try {
        session = await this.#openSession(bindings);
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
        await session.close({ deleteQueue: true });
        return;
      }
      if (!this.#install(session)) continue;
      this.#unbindDropped(session, bindings);
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

  /** Keys unbound while the session was being set up were bound on it: undo that. */
  #unbindDropped(session: AmqpSession, bound: readonly Binding[]): void {
    const current = new Set<string>();
    for (const [exchange, key] of this.#context.bindings()) current.add(`${exchange}\u0000${key}`);
    for (const [exchange, key] of bound) {
      if (current.has(`${exchange}\u0000${key}`)) continue;
      session.unbind(exchange, key).catch(() => {
        // Only traffic is lost: core drops deliveries of keys it does not have.
      });
    }
  }

  /** The live session, waiting for a reconnection until `deadline`. */
  #connected(method: string, deadline: number): Promise<AmqpSession> {
    if (this.#isClosed) {
      return Promise.reject(new AMQClosedError(`[@teal/amq-amqp] ${method}() after close()`));
    }
    const session = this.#session;
    if (session !== null && !session.isEnded) return Promise.resolve(session);
    return new Promise<AmqpSession>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.#waiters.delete(waiter);
          reject(
            new AmqpConnectionError(
              `[@teal/amq-amqp] ${method}(): no connection to RabbitMQ within ${this.#context.sendTimeoutMs} ms; check that the broker is up`,
            ),
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      const waiter: SessionWaiter = {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
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
