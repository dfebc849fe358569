import type { Message, MessageKind, MessageOfKind } from '@teal/messages';
import type { HandlerEvent, HandlerEventListener } from './events';
import type { AMQExchangeName } from './exchanges';

/** Receives every message delivered to a handler, in delivery order. */
export type MessageCallback = (message: Message) => unknown;

/** Where an error that nothing awaits ends up: a throwing callback, a lost connection. */
export type ErrorHook = (error: unknown, context: ErrorContext) => void;

/** Options of `send()`. */
export interface SendOptions {
  /** Gives up: `send()` rejects with its reason, and the message is never written after. */
  readonly signal?: AbortSignal;
}

/** Options of `waitFor()`. */
export interface WaitOptions {
  /** Gives up: `waitFor()` rejects with its reason and lets the key go. */
  readonly signal?: AbortSignal;
  /** Rejects with an `AMQTimeoutError` after this long, and lets the key go. Default: no limit. */
  readonly timeoutMs?: number;
  /** Called once the broker binding is in place: every message sent from then on is seen. */
  readonly onBound?: () => void;
}

/** What `subscribe()` returns: an async iterator over one key's messages. */
export interface KeySubscription<T extends Message> extends AsyncIterableIterator<T> {
  /**
   * Resolves once the broker binding is in place — every message sent from
   * then on is delivered — or rejects when the bind failed.
   */
  readonly bound: Promise<void>;
  /** Ends the subscription and lets the key go (what `break` calls). */
  return(): Promise<IteratorResult<T, undefined>>;
}

/** Options of `subscribe()`. */
export interface SubscribeOptions {
  /** Ends the iteration: `next()` rejects with its reason, and the key goes. */
  readonly signal?: AbortSignal;
  /**
   * The most messages the iterator holds that the loop has not taken yet.
   * While full, the handler's delivery waits, as for a slow callback: the
   * backlog bounds apply (see `maxBacklog`). Default 100.
   */
  readonly highWaterMark?: number;
}

/** Options of `close()`. */
export interface CloseOptions {
  /**
   * Closes gracefully: takes no new deliveries, lets the messages already
   * received reach the callback and the listeners (acknowledged where the
   * broker acknowledges), then releases the broker resources. Past this many
   * milliseconds, what is left is released unacknowledged and counted in a
   * warning. Without it, `close()` drops what waits at once.
   */
  readonly drainTimeoutMs?: number;
}

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
   * be delivered to the broker within the send timeout, or when `signal`
   * fires first — and then the message is never delivered.
   */
  send(message: Message, options?: SendOptions): Promise<void>;

  /**
   * Resolves with the first message of this kind and key delivered once the
   * key is bound (every message sent after the bind resolved is seen), then
   * lets the key go. Waiters on one key share one broker binding with the
   * subscriptions and explicit binds of this handler; the last one to let go
   * unbinds it. Rejects with an `AMQTimeoutError` after `timeoutMs`, with the
   * signal's reason on abort, with an `AMQClosedError` on close.
   */
  waitFor<K extends MessageKind>(
    kind: K,
    key: string,
    options?: WaitOptions,
  ): Promise<MessageOfKind<K>>;

  /**
   * Every message of this kind and key, in order, from the moment of the call
   * until the loop ends (`break`), `signal` fires or the handler closes (the
   * iterator then throws an `AMQClosedError`, after the messages it holds).
   * The key is bound as for `waitFor()`; a failed bind is thrown by `next()`.
   */
  subscribe<K extends MessageKind>(
    kind: K,
    key: string,
    options?: SubscribeOptions,
  ): KeySubscription<MessageOfKind<K>>;

  /**
   * Delivers, from now on, the messages of this kind and key to `callback`.
   * Binding a bound key again changes nothing; one `unbind()` undoes it. The
   * broker binding is shared with `waitFor()` and `subscribe()`.
   */
  bind(kind: MessageKind, key: string): Promise<void>;
  /** Undoes `bind()`; the broker binding goes once no waiter or subscription holds the key either. */
  unbind(kind: MessageKind, key: string): Promise<void>;

  /** `bind('callback', state)`: the callback messages of this OAuth2 state. */
  bindCallbackState(state: string): Promise<void>;
  /** `unbind('callback', state)`. */
  unbindCallbackState(state: string): Promise<void>;

  /** `bind('openid_ciba_callback', requestId)`: the CIBA notifications of this authentication request. */
  bindOpenIDCIBARequestIdentifier(requestId: string): Promise<void>;
  /** `unbind('openid_ciba_callback', requestId)`. */
  unbindOpenIDCIBARequestIdentifier(requestId: string): Promise<void>;

  /** `bind('powens_webhook', domain)`: the Powens webhooks of this domain (`example.biapi.pro`). */
  bindPowensDomainWebhooks(domain: string): Promise<void>;
  /** `unbind('powens_webhook', domain)`. */
  unbindPowensDomainWebhooks(domain: string): Promise<void>;

  /** Calls `listener` on each `connected`, `disconnected`, `reconnected` or `error` event. */
  on<E extends HandlerEvent>(event: E, listener: HandlerEventListener<E>): this;
  /** Removes a listener `on()` added. */
  off<E extends HandlerEvent>(event: E, listener: HandlerEventListener<E>): this;

  /**
   * Stops delivery and releases the broker resources (queues, consumers,
   * subscriptions) and connections; pending `waitFor()` calls and iterators
   * end with an `AMQClosedError`. Idempotent. Afterwards `send` and the binds
   * reject. With `drainTimeoutMs`, it first lets what was already received
   * reach the callback and the listeners.
   */
  close(options?: CloseOptions): Promise<void>;
}
