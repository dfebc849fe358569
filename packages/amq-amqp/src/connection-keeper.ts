import {
  AMQClosedError,
  backoffDelay,
  redactUrl,
  type TransportContext,
} from '@teal/amq-core/adapter';
import type { Message } from 'amqplib';
import { AmqpConnectionError, AmqpSession, connectionError, describe } from './connection';
import { sleep } from './publisher-deadlines';
import type { AmqpSettings } from './settings';

/** What the transport does with the sessions the keeper opens. */
export interface SessionHooks {
  /** Readies a new session before it is used (the queue reconciled); rejecting discards it. */
  prepare(session: AmqpSession): Promise<void>;
  /** The session is the current one now; `isReconnection` after a loss. */
  installed(session: AmqpSession, isReconnection: boolean): void;
  /** The current session was lost; a new one is on its way. */
  lost(): void;
  /** A session opened after `stop()`: release what it holds and close it. */
  discard(session: AmqpSession): Promise<void>;
  drained(session: AmqpSession): void;
  returned(message: Message): void;
  undecodableHeaders(): void;
}

/**
 * Keeps one session up: opens the first, and whenever the current one is
 * lost, reports it and opens a new one with jittered backoff until `stop()`.
 * Calls that need a session wait for it until their deadline.
 */
export class SessionKeeper {
  readonly #settings: AmqpSettings;
  readonly #context: TransportContext;
  readonly #hooks: SessionHooks;
  /** Waiting for a session: handed it, or an error at their deadline or on stop. */
  readonly #waiters = new Set<(outcome: AmqpSession | Error) => void>();
  readonly #stopped = new AbortController();
  #session: AmqpSession | null = null;
  #reconnecting: Promise<void> | null = null;
  /** When the current outage began. */
  #lostAt = 0;
  #lostCount = 0;

  constructor(settings: AmqpSettings, context: TransportContext, hooks: SessionHooks) {
    this.#settings = settings;
    this.#context = context;
    this.#hooks = hooks;
  }

  /** Opens the first session; rejects if the broker cannot be reached. */
  async start(): Promise<void> {
    if (!this.#install(await this.#open(), false)) {
      throw new Error('the connection closed as soon as it opened');
    }
  }

  /** The current session, if it is alive. */
  get current(): AmqpSession | null {
    const session = this.#session;
    return session !== null && !session.isEnded ? session : null;
  }

  /** How many times the connection was lost so far. */
  get lostCount(): number {
    return this.#lostCount;
  }

  /** The live session, waiting for a reconnection until `signal` fires. */
  connected(method: string, signal: AbortSignal): Promise<AmqpSession> {
    if (this.#stopped.signal.aborted) {
      return Promise.reject(new AMQClosedError(`[@teal/amq-amqp] ${method}() after close()`));
    }
    const session = this.current;
    if (session !== null) return Promise.resolve(session);
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

  /** Stops reconnecting and fails what waits; returns the session that was current. */
  stop(error: Error): AmqpSession | null {
    this.#stopped.abort();
    for (const waiter of this.#waiters) waiter(error);
    this.#waiters.clear();
    const session = this.#session;
    this.#session = null;
    return session;
  }

  /** Settles once a reconnection under way gave up or handed its session to `discard`. */
  get settled(): Promise<void> {
    return this.#reconnecting ?? Promise.resolve();
  }

  async #open(): Promise<AmqpSession> {
    let session: AmqpSession | null = null;
    const hooks = this.#hooks;
    session = await AmqpSession.open(this.#settings, {
      onDrain: () => {
        if (session !== null) hooks.drained(session);
      },
      onLost: (error) => {
        if (session !== null && session === this.#session) this.#lose(error);
      },
      onBlocked: (reason) => {
        if (reason === null) this.#context.logger.warn('RabbitMQ unblocked publishing');
        else this.#context.logger.warn('RabbitMQ blocked publishing', { reason });
      },
      onReturn: (message) => hooks.returned(message),
      onUndecodableHeaders: () => hooks.undecodableHeaders(),
    });
    try {
      await hooks.prepare(session);
    } catch (error) {
      await session.close(AbortSignal.timeout(1_000));
      throw error;
    }
    return session;
  }

  /** Makes an opened session the current one, unless it died in between (then `false`). */
  #install(session: AmqpSession, isReconnection: boolean): boolean {
    if (session.isEnded) return false;
    this.#session = session;
    this.#hooks.installed(session, isReconnection);
    for (const waiter of this.#waiters) waiter(session);
    this.#waiters.clear();
    return true;
  }

  #lose(error: Error): void {
    this.#session = null;
    this.#lostAt = Date.now();
    this.#lostCount++;
    this.#hooks.lost();
    this.#context.reportError(
      new AmqpConnectionError(
        `[@teal/amq-amqp] lost the connection to ${redactUrl(this.#settings.givenUrl)} (${describe(error)}); reconnecting`,
      ),
    );
    this.#reconnecting ??= this.#reconnect().finally(() => {
      this.#reconnecting = null;
    });
  }

  async #reconnect(): Promise<void> {
    const stopped = this.#stopped.signal;
    for (let attempt = 0; !stopped.aborted; attempt++) {
      await sleep(backoffDelay(attempt), stopped);
      if (stopped.aborted) return;
      let session: AmqpSession;
      try {
        session = await this.#open();
      } catch (error) {
        if (attempt === 0 || attempt % 10 === 9) {
          this.#context.reportError(
            connectionError(
              `reconnect attempt ${attempt + 1} failed for`,
              this.#settings.givenUrl,
              error,
            ),
          );
        }
        continue;
      }
      if (stopped.aborted) {
        await this.#hooks.discard(session);
        return;
      }
      if (!this.#install(session, true)) continue;
      const outageMs = Date.now() - this.#lostAt;
      if (outageMs > this.#settings.queueExpiresMs) {
        this.#context.logger.warn(
          'reconnected after an outage longer than queueExpiresMs: the queue may have expired, losing what was sent meanwhile',
          { outageMs, queueExpiresMs: this.#settings.queueExpiresMs },
        );
      }
      return;
    }
  }
}
