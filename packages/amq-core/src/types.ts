import type { Message } from '@teal/messages';
import type { AMQExchangeName } from './exchanges';

/** Receives every message delivered to a handler, in delivery order. */
export type MessageCallback = (message: Message) => unknown;

/** Where an error that nothing awaits ends up: a throwing callback, a lost connection. */
export type ErrorHook = (error: unknown, context: ErrorContext) => void;

export interface ErrorContext {
  /**
   * What failed: the user's callback, the adapter's connection to its broker,
   * or the backlog of a callback that does not keep up (messages dropped).
   */
  readonly source: 'callback' | 'connection' | 'backlog';
  /** The exchange of the message the callback was handling. */
  readonly exchange?: AMQExchangeName;
}

/**
 * A connection to a broker for listeners and dispatchers: it sends messages
 * and delivers the ones bound by key to `callback`. Every adapter implements
 * it with the same contract, proved by the suite in `@teal/amq-core/testing`.
 */
export interface AMQHandler extends AsyncDisposable {
  /**
   * Called with each delivered message, in delivery order; a returned promise
   * is awaited before the next message. Messages that arrive while it is
   * `null` are dropped. Errors it throws go to `onError`, never stop delivery.
   */
  callback: MessageCallback | null;

  /** Receives callback and connection errors. Default: logs them at error level. */
  onError: ErrorHook;

  /** Whether `close()` was called. */
  readonly isClosed: boolean;

  /** Whether the handler is connected to its broker right now. */
  readonly isConnected: boolean;

  /**
   * Sends a message on the exchange of its kind, with its routing key.
   * Resolves only once the broker has accepted it; rejects when it could not
   * be delivered to the broker within the send timeout.
   */
  send(message: Message): Promise<void>;

  /** Delivers, from now on, the callback messages of this OAuth2 state. */
  bindCallbackState(state: string): Promise<void>;
  /** Stops delivering the callback messages of this state. */
  unbindCallbackState(state: string): Promise<void>;

  /** Delivers, from now on, the CIBA notifications of this authentication request. */
  bindOpenIDCIBARequestIdentifier(requestId: string): Promise<void>;
  /** Stops delivering the CIBA notifications of this authentication request. */
  unbindOpenIDCIBARequestIdentifier(requestId: string): Promise<void>;

  /** Delivers, from now on, the Powens webhooks of this domain (`example.biapi.pro`). */
  bindPowensDomainWebhooks(domain: string): Promise<void>;
  /** Stops delivering the Powens webhooks of this domain. */
  unbindPowensDomainWebhooks(domain: string): Promise<void>;

  /**
   * Stops delivery and releases the broker resources (queues, consumers,
   * subscriptions) and connections. Idempotent. Afterwards `send` and the
   * binds reject.
   */
  close(): Promise<void>;
}
