import {
  encodeMessage,
  type Message,
  type MessageKind,
  type MessageOfKind,
  routingKeyOf,
} from '@teal/messages';
import { Bindings, type Holder } from './bindings';
import { Deadline } from './deadline';
import { DeliveryQueue } from './delivery-queue';
import {
  AMQBindError,
  AMQClosedError,
  AMQError,
  AMQRoutingKeyError,
  AMQSendError,
  AMQTimeoutError,
} from './errors';
import { type HandlerEvent, type HandlerEventListener, HandlerEvents } from './events';
import { type AMQExchangeName, exchangeOfKind, isExchangeName, kindOfExchange } from './exchanges';
import { Listeners } from './listeners';
import { type Logger, stderrLogger } from './logger';
import { Subscription } from './subscription';
import type { Delivery, Transport, TransportContext, TransportFactory } from './transport';
import type {
  AMQHandler,
  CloseOptions,
  ErrorContext,
  ErrorHook,
  KeySubscription,
  MessageCallback,
  SendOptions,
  SubscribeOptions,
  WaitOptions,
} from './types';

/** Options every handler takes, whatever its adapter. */
export interface HandlerOptions {
  /** Prepended to every exchange name; isolates applications sharing a broker. Default `''`. */
  exchangePrefix?: string;
  /** Where the handler logs. Default: warnings and errors as JSON on stderr. */
  logger?: Logger;
  /** How many callbacks may run at once. Default 1: each is awaited before the next. */
  concurrency?: number;
  /**
   * How long `send()`, a bind or an unbind waits for the broker, outages
   * included, before it rejects; `close()` waits as long before it lets go of
   * what it could not release politely. Default 10 s.
   */
  sendTimeoutMs?: number;
  /**
   * The most deliveries the handler holds for a callback that does not keep
   * up. Beyond it, an adapter that can hold the broker back stops taking
   * messages (they wait on the broker); one that cannot (core NATS, memory)
   * drops them, counts them and reports them to `onError`. Default 1,000.
   */
  maxBacklog?: number;
  /** The same bound in body bytes. Default 64 MiB. */
  maxBacklogBytes?: number;
  /** The initial callback. */
  callback?: MessageCallback | null;
  /** The initial error hook. */
  onError?: ErrorHook;
}

/**
 * Sends a raw body through a handler's transport; reached through
 * `@teal/amq-core/testing`. A registered symbol, so that the testing bundle
 * finds it on handlers made by the main bundle.
 */
export const publishRaw: unique symbol = Symbol.for('@teal/amq-core.publishRaw') as never;

/** The transport behind a handler; reached through `transportOf()` of `@teal/amq-core/testing`. */
export const transportKey: unique symbol = Symbol.for('@teal/amq-core.transport') as never;

/** The handler's backlog; reached through `backlogOf()` of `@teal/amq-core/testing`. */
export const backlogKey: unique symbol = Symbol.for('@teal/amq-core.backlog') as never;

const DEFAULT_MAX_BACKLOG = 1_000;
const DEFAULT_MAX_BACKLOG_BYTES = 64 * 1024 * 1024;
const DEFAULT_HIGH_WATER_MARK = 100;
/** How long `close()` waits past its deadline for a transport that ignores it. */
const CLOSE_GRACE_MS = 1_000;
/** The one holder of every explicit bind of a key: bound twice is bound once. */
const EXPLICIT: Holder = Object.freeze({ explicit: true });

const utf8 = new TextEncoder();

/**
 * Makes a handler from an adapter's transport factory. This is what an
 * adapter's `connect` returns: the shared behaviour lives here, the
 * broker-specific part in the transport.
 */
export async function createHandler(
  factory: TransportFactory,
  options: HandlerOptions = {},
): Promise<AMQHandler> {
  const handler = new Handler(options);
  await handler.open(factory);
  return handler;
}

class Handler implements AMQHandler {
  callback: MessageCallback | null;
  onError: ErrorHook;
  readonly logger: Logger;
  readonly #exchangePrefix: string;
  readonly #sendTimeoutMs: number;
  readonly #bindings: Bindings;
  readonly #listeners = new Listeners();
  readonly #queue: DeliveryQueue;
  readonly #events: HandlerEvents;
  /** Ends each pending `waitFor()` with an error, for `close()`. */
  readonly #waits = new Set<(error: unknown) => void>();
  readonly #subscriptions = new Set<Pick<Subscription<Message>, 'fail'>>();
  #transport: Transport | null = null;
  #isConnected = true;
  #closing: Promise<void> | null = null;

  constructor(options: HandlerOptions) {
    this.#exchangePrefix = options.exchangePrefix ?? '';
    this.logger = options.logger ?? stderrLogger;
    this.callback = options.callback ?? null;
    this.onError =
      options.onError ??
      ((error, context) => this.logger.error(`${context.source} error`, { ...context, error }));
    this.#sendTimeoutMs = positive('sendTimeoutMs', options.sendTimeoutMs ?? 10_000);
    this.#events = new HandlerEvents((error) =>
      this.logger.error('an event listener threw', { error }),
    );
    this.#bindings = new Bindings(
      (operation, exchange, key, signal) => this.#onBroker(operation, exchange, key, signal),
      (error) => this.report(error, { source: 'connection' }),
    );
    this.#queue = new DeliveryQueue(this, {
      concurrency: positive('concurrency', options.concurrency ?? 1),
      maxBacklog: positive('maxBacklog', options.maxBacklog ?? DEFAULT_MAX_BACKLOG),
      maxBacklogBytes: positive(
        'maxBacklogBytes',
        options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES,
      ),
    });
  }

  async open(factory: TransportFactory): Promise<void> {
    const context: TransportContext = {
      exchangePrefix: this.#exchangePrefix,
      logger: this.logger,
      sendTimeoutMs: this.#sendTimeoutMs,
      deliver: (delivery) => this.#queue.push(delivery),
      bindings: () => this.#bindings.entries(),
      reportError: (error) => this.report(error, { source: 'connection' }),
      connectionChanged: (isConnected, error) => this.#connectionChanged(isConnected, error),
      backlog: this.#queue,
    };
    const transport = await factory(context);
    this.#queue.appliesBackpressure = transport.appliesBackpressure === true;
    this.#transport = transport;
  }

  get isClosed(): boolean {
    return this.#closing !== null;
  }

  get isConnected(): boolean {
    return !this.isClosed && (this.#transport?.isConnected ?? false);
  }

  isBound(delivery: Delivery): boolean {
    return this.#bindings.has(delivery.exchange, delivery.routingKey);
  }

  isListened(delivery: Delivery): boolean {
    return this.#listeners.has(delivery.exchange, delivery.routingKey);
  }

  route(delivery: Delivery, message: Message): Promise<void> | undefined {
    return this.#listeners.route(delivery.exchange, delivery.routingKey, message);
  }

  send(message: Message, options: SendOptions = {}): Promise<void> {
    try {
      const transport = this.#open('send');
      const body = encodeMessage(message);
      const routingKey = routingKeyOf(message);
      this.#checkKey(transport, 'send', routingKey);
      return this.#publish(
        transport,
        exchangeOfKind(message.kind),
        routingKey,
        body,
        options.signal,
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  waitFor<K extends MessageKind>(
    kind: K,
    key: string,
    options: WaitOptions = {},
  ): Promise<MessageOfKind<K>> {
    let transport: Transport;
    let exchange: AMQExchangeName;
    try {
      transport = this.#open('waitFor');
      exchange = this.#exchangeOf('waitFor', kind);
      this.#checkKey(transport, 'waitFor', key, 'key');
      if (options.timeoutMs !== undefined) positive('timeoutMs', options.timeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<MessageOfKind<K>>((resolve, reject) => {
      const holder: Holder = {};
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (error: unknown, message?: Message) => {
        if (!this.#waits.delete(fail)) return;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#listeners.remove(exchange, key, listener);
        this.#letGo(exchange, key, holder);
        if (message === undefined) reject(error);
        else resolve(message as MessageOfKind<K>);
      };
      const fail = (error: unknown) => finish(error);
      const listener = {
        accept: (message: Message) => {
          finish(undefined, message);
          return undefined;
        },
      };
      const onAbort = () => fail(signal?.reason);
      this.#waits.add(fail);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () =>
            fail(
              new AMQTimeoutError(
                `[@teal/amq-core] waitFor('${kind}'): no message within ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        );
      }
      this.#listeners.add(exchange, key, listener);
      this.#hold(transport, exchange, key, holder, 'waitFor').then(() => {
        try {
          options.onBound?.();
        } catch (error) {
          fail(error);
        }
      }, fail);
    });
  }

  subscribe<K extends MessageKind>(
    kind: K,
    key: string,
    options: SubscribeOptions = {},
  ): KeySubscription<MessageOfKind<K>> {
    const transport = this.#open('subscribe');
    const exchange = this.#exchangeOf('subscribe', kind);
    this.#checkKey(transport, 'subscribe', key, 'key');
    const highWaterMark = positive(
      'highWaterMark',
      options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
    );
    const { signal } = options;
    const onAbort = () => subscription.fail(signal?.reason, true);
    const subscription: Subscription<MessageOfKind<K>> = new Subscription(highWaterMark, () => {
      signal?.removeEventListener('abort', onAbort);
      this.#subscriptions.delete(subscription);
      this.#listeners.remove(exchange, key, subscription);
      this.#letGo(exchange, key, subscription);
    });
    this.#subscriptions.add(subscription);
    this.#listeners.add(exchange, key, subscription);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    subscription.bound = this.#hold(transport, exchange, key, subscription, 'subscribe');
    subscription.bound.catch((error: unknown) => subscription.fail(error, false));
    return subscription;
  }

  bind(kind: MessageKind, key: string): Promise<void> {
    return this.#bindExplicitly('bind', kind, key, 'key');
  }

  unbind(kind: MessageKind, key: string): Promise<void> {
    return this.#unbindExplicitly('unbind', kind, key, 'key');
  }

  bindCallbackState(state: string): Promise<void> {
    return this.#bindExplicitly('bindCallbackState', 'callback', state, 'state');
  }

  unbindCallbackState(state: string): Promise<void> {
    return this.#unbindExplicitly('unbindCallbackState', 'callback', state, 'state');
  }

  bindOpenIDCIBARequestIdentifier(requestId: string): Promise<void> {
    return this.#bindExplicitly(
      'bindOpenIDCIBARequestIdentifier',
      'openid_ciba_callback',
      requestId,
      'requestId',
    );
  }

  unbindOpenIDCIBARequestIdentifier(requestId: string): Promise<void> {
    return this.#unbindExplicitly(
      'unbindOpenIDCIBARequestIdentifier',
      'openid_ciba_callback',
      requestId,
      'requestId',
    );
  }

  bindPowensDomainWebhooks(domain: string): Promise<void> {
    return this.#bindExplicitly('bindPowensDomainWebhooks', 'powens_webhook', domain, 'domain');
  }

  unbindPowensDomainWebhooks(domain: string): Promise<void> {
    return this.#unbindExplicitly('unbindPowensDomainWebhooks', 'powens_webhook', domain, 'domain');
  }

  on<E extends HandlerEvent>(event: E, listener: HandlerEventListener<E>): this {
    this.#events.on(event, listener);
    return this;
  }

  off<E extends HandlerEvent>(event: E, listener: HandlerEventListener<E>): this {
    this.#events.off(event, listener);
    return this;
  }

  close(options: CloseOptions = {}): Promise<void> {
    if (this.#closing === null) this.#closing = this.#shutdown(options.drainTimeoutMs);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  get [transportKey](): Transport | null {
    return this.#transport;
  }

  get [backlogKey](): DeliveryQueue {
    return this.#queue;
  }

  [publishRaw](
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
  ): Promise<void> {
    return this.#publish(this.#open('publish'), exchange, routingKey, body, undefined);
  }

  /** Hands an error nothing awaits to `onError` and the `error` listeners; a throwing hook is logged. */
  report(error: unknown, context: ErrorContext): void {
    try {
      this.onError(error, context);
    } catch (hookError) {
      this.logger.error('the error hook threw', { error: hookError });
    }
    this.#events.emit('error', error, context);
  }

  async #shutdown(drainTimeoutMs: number | undefined): Promise<void> {
    if (drainTimeoutMs === undefined) {
      this.#queue.stop();
    } else {
      await this.#drain(drainTimeoutMs);
    }
    const closed = new AMQClosedError('[@teal/amq-core] the handler was closed');
    for (const fail of [...this.#waits]) fail(closed);
    for (const subscription of [...this.#subscriptions]) subscription.fail(closed, false);
    const transport = this.#transport;
    if (transport === null) return;
    const deadline = new Deadline(
      this.#sendTimeoutMs,
      () => new AMQError(`[${transport.name}] close() took longer than ${this.#sendTimeoutMs} ms`),
    );
    try {
      // The transport first: a bind waiting out an outage must not hold close() up.
      const closed = Promise.all([transport.close(deadline.signal), this.#bindings.settled()]);
      const isClosed = await Promise.race([
        closed.then(() => true),
        deadline.expiry(CLOSE_GRACE_MS).then(() => false),
      ]);
      if (!isClosed) {
        this.logger.warn('the transport did not close within sendTimeoutMs; leaving it behind', {
          adapter: transport.name,
          sendTimeoutMs: this.#sendTimeoutMs,
        });
      }
    } finally {
      deadline.clear();
    }
  }

  /** Lets what was received reach the callback and listeners, for at most `timeoutMs`. */
  async #drain(timeoutMs: number): Promise<void> {
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new AMQError(`[@teal/amq-core] drainTimeoutMs must be 0 or more, got ${timeoutMs}`);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const isDrained = await Promise.race([
      this.#queue.drain().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (isDrained) return;
    const left = this.#queue.release();
    if (left > 0) {
      this.logger.warn('close(): messages left undelivered after drainTimeoutMs', {
        messages: left,
        drainTimeoutMs: timeoutMs,
      });
    }
  }

  #connectionChanged(isConnected: boolean, error: unknown): void {
    if (this.isClosed || isConnected === this.#isConnected) return;
    this.#isConnected = isConnected;
    if (!isConnected) {
      this.#events.emit('disconnected', error);
      return;
    }
    this.#events.emit('connected');
    this.#events.emit('reconnected');
  }

  #bindExplicitly(method: string, kind: MessageKind, key: string, argument: string): Promise<void> {
    try {
      const transport = this.#open(method);
      const exchange = this.#exchangeOf(method, kind);
      this.#checkKey(transport, method, key, argument);
      return this.#hold(transport, exchange, key, EXPLICIT, method);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #unbindExplicitly(
    method: string,
    kind: MessageKind,
    key: string,
    argument: string,
  ): Promise<void> {
    try {
      const transport = this.#open(method);
      const exchange = this.#exchangeOf(method, kind);
      this.#checkKey(transport, method, key, argument);
      const deadline = this.#bindDeadline(transport, `${method}() on ${exchange}`);
      return deadline.race(this.#bindings.release(exchange, key, EXPLICIT, deadline.signal));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Holds the key for `holder`; resolves once the broker binding is in place.
   * A holder whose deadline passes lets go, so the broker never keeps what the
   * caller was told failed.
   */
  #hold(
    transport: Transport,
    exchange: AMQExchangeName,
    key: string,
    holder: Holder,
    method: string,
  ): Promise<void> {
    const deadline = this.#bindDeadline(transport, `${method}() on ${exchange}`);
    return deadline
      .race(this.#bindings.hold(exchange, key, holder, deadline.signal))
      .catch((error: unknown) => {
        if (!this.isClosed) this.#letGo(exchange, key, holder);
        throw error;
      });
  }

  /** Lets go of the key for `holder`, in the background; a failed unbind goes to `onError`. */
  #letGo(exchange: AMQExchangeName, key: string, holder: Holder): void {
    if (this.isClosed || !this.#bindings.isHeldBy(exchange, key, holder)) return;
    this.#bindings.release(exchange, key, holder).catch((error: unknown) => {
      if (!this.isClosed) this.report(error, { source: 'connection', exchange });
    });
  }

  /** What `Bindings` asks of the broker, with a deadline of its own when it has none. */
  async #onBroker(
    operation: 'bind' | 'unbind',
    exchange: AMQExchangeName,
    key: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const transport = this.#transport;
    if (transport === null) throw new AMQClosedError('[@teal/amq-core] the handler was closed');
    const own =
      signal === undefined
        ? this.#bindDeadline(transport, `${operation} on ${exchange}`)
        : undefined;
    try {
      if (operation === 'bind') await transport.bind(exchange, key, signal ?? own!.signal);
      else await transport.unbind(exchange, key, signal ?? own!.signal);
    } catch (error) {
      throw brokerError(
        AMQBindError,
        transport,
        `${operation === 'bind' ? 'binding' : 'unbinding'} a key on ${exchange} failed`,
        error,
      );
    } finally {
      own?.clear();
    }
  }

  #publish(
    transport: Transport,
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const timeoutMs = this.#sendTimeoutMs;
    const deadline = new Deadline(
      timeoutMs,
      () =>
        new AMQSendError(
          `[${transport.name}] the broker did not accept the message on ${exchange} within ${timeoutMs} ms`,
        ),
      signal,
    );
    let published: Promise<void>;
    try {
      published = transport.publish(exchange, routingKey, body, deadline.signal);
    } catch (error) {
      deadline.clear();
      return Promise.reject(error);
    }
    return deadline.race(
      published.catch((error: unknown) => {
        throw brokerError(
          AMQSendError,
          transport,
          `the broker did not accept the message on ${exchange}`,
          error,
        );
      }),
    );
  }

  #bindDeadline(transport: Transport, what: string): Deadline {
    const timeoutMs = this.#sendTimeoutMs;
    return new Deadline(
      timeoutMs,
      () =>
        new AMQBindError(
          `[${transport.name}] ${what}: no answer from the broker within ${timeoutMs} ms`,
        ),
    );
  }

  #open(method: string): Transport {
    if (this.#closing !== null || this.#transport === null) {
      throw new AMQClosedError(`[@teal/amq-core] ${method}() after close(): make a new handler`);
    }
    return this.#transport;
  }

  #exchangeOf(method: string, kind: MessageKind): AMQExchangeName {
    const exchange = exchangeOfKind(kind);
    if (exchange === undefined || !isExchangeName(exchange) || kindOfExchange(exchange) !== kind) {
      throw new AMQError(
        `[@teal/amq-core] ${method}(): unknown message kind ${JSON.stringify(String(kind)).slice(0, 40)}: use 'callback', 'openid_ciba_callback' or 'powens_webhook'`,
      );
    }
    return exchange;
  }

  #checkKey(transport: Transport, method: string, key: string, argument = 'routing key'): void {
    if (typeof key !== 'string' || key === '') {
      throw new AMQRoutingKeyError(
        `[@teal/amq-core] ${method}(): ${argument} must be a non-empty string`,
      );
    }
    const limit = transport.maxRoutingKeyBytes;
    if (limit !== undefined && key.length * 3 > limit) {
      const bytes = utf8.encode(key).length;
      if (bytes > limit) {
        throw new AMQRoutingKeyError(
          `[${transport.name}] ${method}(): the ${argument} is ${bytes} bytes; the broker allows ${limit}`,
        );
      }
    }
  }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new AMQError(`[@teal/amq-core] ${name} must be a positive number, got ${value}`);
  }
  return value;
}

/** An adapter's own errors pass as they are; anything else is wrapped, with its cause. */
function brokerError(
  Kind: typeof AMQSendError | typeof AMQBindError,
  transport: Transport,
  what: string,
  error: unknown,
): AMQError {
  if (error instanceof AMQError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new Kind(`[${transport.name}] ${what}: ${reason}`, { cause: error });
}
