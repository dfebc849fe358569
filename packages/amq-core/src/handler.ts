import {
  encodeMessage,
  type Message,
  type MessageKind,
  type MessageOfKind,
  routingKeyOf,
} from '@teal/messages';
import { byteLength, DeliveryQueue } from './delivery-queue';
import {
  connectionChannel,
  type HandlerEventBase,
  nextHandlerId,
  type SendEvent,
  sendChannel,
} from './diagnostics';
import {
  AMQClosedError,
  AMQError,
  AMQRoutingKeyError,
  AMQSendError,
  AMQUnconfirmedSendError,
} from './errors';
import { type HandlerEvent, type HandlerEventListener, HandlerEvents } from './events';
import { type AMQExchangeName, exchangeOfKind, isExchangeName, kindOfExchange } from './exchanges';
import { brokerError, EXPLICIT, KeyHolds } from './holds';
import { Listeners } from './listeners';
import { type Logger, stderrLogger } from './logger';
import {
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_BACKLOG,
  DEFAULT_MAX_BACKLOG_BYTES,
  DEFAULT_SEND_TIMEOUT_MS,
  type HandlerOptions,
  positive,
} from './options';
import { Subscription } from './subscription';
import { Deadline, onAbort, SendDeadlines } from './timing';
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
import { waitForMessage } from './waiter';

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

/** How long `close()` waits past its deadline for a transport that ignores it. */
const CLOSE_GRACE_MS = 1_000;

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

/**
 * An adapter's `connect()`: resolves the options into settings first, so
 * that a bad setting throws before anything connects, then makes a handler
 * over the transport that `open` makes with them.
 */
export function adapterConnect<Options extends HandlerOptions, Settings>(
  resolveSettings: (options: Options) => Settings,
  open: (settings: Settings, context: TransportContext) => Promise<Transport>,
): (options: Options) => Promise<AMQHandler> {
  return async (options) => {
    const settings = resolveSettings(options);
    return createHandler((context) => open(settings, context), options);
  };
}

class Handler implements AMQHandler {
  callback: MessageCallback | null;
  onError: ErrorHook;
  readonly logger: Logger;
  readonly #exchangePrefix: string;
  readonly sendTimeoutMs: number;
  readonly holds: KeyHolds;
  readonly listeners = new Listeners();
  /** Ends each pending `waitFor()` with an error, for `close()`. */
  readonly waits = new Set<(error: unknown) => void>();
  readonly #queue: DeliveryQueue;
  readonly #events: HandlerEvents;
  readonly #subscriptions = new Set<Pick<Subscription<Message>, 'fail'>>();
  #transport: Transport | null = null;
  #eventBase: HandlerEventBase = { handlerId: nextHandlerId(), adapter: '' };
  #isConnected = true;
  #closing: Promise<void> | null = null;
  readonly #sendDeadlines: SendDeadlines;

  constructor(options: HandlerOptions) {
    this.#exchangePrefix = options.exchangePrefix ?? '';
    this.logger = options.logger ?? stderrLogger;
    this.callback = options.callback ?? null;
    this.onError =
      options.onError ??
      ((error, context) => this.logger.error(`${context.source} error`, { ...context, error }));
    this.sendTimeoutMs = positive(
      'sendTimeoutMs',
      options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
    );
    this.#sendDeadlines = new SendDeadlines(this.sendTimeoutMs);
    this.#events = new HandlerEvents((error) =>
      this.logger.error('an event listener threw', { error }),
    );
    this.holds = new KeyHolds(this);
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
      sendTimeoutMs: this.sendTimeoutMs,
      deliver: (delivery) => this.#queue.push(delivery),
      bindings: () => this.holds.bindings.entries(),
      reportError: (error) => this.report(error, { source: 'connection' }),
      connectionChanged: (isConnected, error) => this.#connectionChanged(isConnected, error),
      backlog: this.#queue,
    };
    const transport = await factory(context);
    this.#queue.appliesBackpressure = transport.appliesBackpressure === true;
    this.#transport = transport;
    this.#eventBase = Object.freeze({ ...this.#eventBase, adapter: transport.name });
  }

  /** Who the diagnostics events are about. */
  get eventBase(): HandlerEventBase {
    return this.#eventBase;
  }

  get transport(): Transport | null {
    return this.#transport;
  }

  reportUnbindError(error: unknown, exchange: AMQExchangeName): void {
    this.report(error, { source: 'connection', exchange });
  }

  get isClosed(): boolean {
    return this.#closing !== null;
  }

  get isConnected(): boolean {
    return !this.isClosed && (this.#transport?.isConnected ?? false);
  }

  isBound(delivery: Delivery): boolean {
    return this.holds.bindings.has(delivery.exchange, delivery.routingKey);
  }

  isListened(delivery: Delivery): boolean {
    return this.listeners.has(delivery.exchange, delivery.routingKey);
  }

  route(delivery: Delivery, message: Message): Promise<void> | undefined {
    return this.listeners.route(delivery.exchange, delivery.routingKey, message);
  }

  send(message: Message, options: SendOptions = {}): Promise<void> {
    try {
      const transport = this.#open('send');
      const body = encodeMessage(message);
      const routingKey = routingKeyOf(message);
      this.#checkKey(transport, 'send', routingKey);
      const exchange = exchangeOfKind(message.kind);
      if (!sendChannel.hasSubscribers) {
        return this.#publish(transport, exchange, routingKey, body, options.signal, undefined);
      }
      const event: SendEvent = {
        ...this.#eventBase,
        exchange,
        kind: message.kind,
        routingKey,
        bodyBytes: byteLength(body),
        headers: {},
      };
      // The subscriber adds trace context to `event.headers` at start, before the publish.
      return sendChannel.tracePromise(
        () => this.#publish(transport, exchange, routingKey, body, options.signal, event.headers),
        event,
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
    return waitForMessage(this, transport, exchange, key, options) as Promise<MessageOfKind<K>>;
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
    let leaveSignal = () => {};
    const subscription: Subscription<MessageOfKind<K>> = new Subscription(highWaterMark, () => {
      leaveSignal();
      this.#subscriptions.delete(subscription);
      this.listeners.remove(exchange, key, subscription);
      this.holds.letGo(exchange, key, subscription);
    });
    this.#subscriptions.add(subscription);
    this.listeners.add(exchange, key, subscription);
    if (signal?.aborted) subscription.fail(signal.reason, true);
    else if (signal !== undefined) {
      leaveSignal = onAbort(signal, () => subscription.fail(signal.reason, true));
    }
    subscription.bound = this.holds.hold(transport, exchange, key, subscription, 'subscribe');
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
    return this.#publish(this.#open('publish'), exchange, routingKey, body, undefined, undefined);
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
    if (connectionChannel.hasSubscribers) {
      connectionChannel.publish({ ...this.#eventBase, state: 'closed' });
    }
    const closed = new AMQClosedError('[@teal/amq-core] the handler was closed');
    for (const fail of [...this.waits]) fail(closed);
    for (const subscription of [...this.#subscriptions]) subscription.fail(closed, false);
    const transport = this.#transport;
    if (transport === null) return;
    const deadline = new Deadline(
      this.sendTimeoutMs,
      () => new AMQError(`[${transport.name}] close() took longer than ${this.sendTimeoutMs} ms`),
    );
    try {
      // The transport first: a bind waiting out an outage must not hold close() up.
      const closed = Promise.all([transport.close(deadline.signal), this.holds.bindings.settled()]);
      const isClosed = await Promise.race([
        closed.then(() => true),
        deadline.expiry(CLOSE_GRACE_MS).then(() => false),
      ]);
      if (!isClosed) {
        this.logger.warn('the transport did not close within sendTimeoutMs; leaving it behind', {
          adapter: transport.name,
          sendTimeoutMs: this.sendTimeoutMs,
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
    if (connectionChannel.hasSubscribers) {
      connectionChannel.publish({
        ...this.#eventBase,
        state: isConnected ? 'connected' : 'disconnected',
        ...(isConnected ? {} : { error }),
      });
    }
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
      return this.holds.hold(transport, exchange, key, EXPLICIT, method);
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
      return this.holds.releaseExplicit(transport, exchange, key, method);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #publish(
    transport: Transport,
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    signal: AbortSignal | undefined,
    headers: Readonly<Record<string, string>> | undefined,
  ): Promise<void> {
    const timeoutMs = this.sendTimeoutMs;
    const reason = (isWritten: boolean) =>
      isWritten
        ? new AMQUnconfirmedSendError(
            `[${transport.name}] the broker did not confirm the message on ${exchange} within ${timeoutMs} ms; it was written, so the broker may have it`,
          )
        : new AMQSendError(
            `[${transport.name}] the broker did not accept the message on ${exchange} within ${timeoutMs} ms`,
          );
    const failure = (error: unknown) =>
      brokerError(
        AMQSendError,
        transport,
        `the broker did not accept the message on ${exchange}`,
        error,
      );
    // A caller's signal needs a deadline of its own; the others share one per millisecond.
    const deadline =
      signal === undefined ? this.#sendDeadlines.join() : new Deadline(timeoutMs, reason, signal);
    let published: Promise<void>;
    try {
      published =
        headers === undefined || Object.keys(headers).length === 0
          ? transport.publish(exchange, routingKey, body, deadline.signal)
          : transport.publish(exchange, routingKey, body, deadline.signal, headers);
    } catch (error) {
      if (deadline instanceof Deadline) {
        deadline.clear();
        return Promise.reject(error);
      }
      // Joined, so it must settle: the shared deadline stops once its last send has.
      return deadline.race(Promise.reject(error), reason, (thrown) => thrown);
    }
    if (deadline instanceof Deadline) {
      return deadline.race(
        published.catch((error: unknown) => {
          throw failure(error);
        }),
      );
    }
    return deadline.race(published, reason, failure);
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
