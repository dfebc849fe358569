import { encodeMessage, type Message, routingKeyOf } from '@teal/messages';
import { Bindings } from './bindings';
import { Dispatcher } from './dispatcher';
import { AMQBindError, AMQClosedError, AMQError, AMQRoutingKeyError, AMQSendError } from './errors';
import { type AMQExchangeName, exchangeOfKind } from './exchanges';
import { type Logger, stderrLogger } from './logger';
import type { Delivery, Transport, TransportContext, TransportFactory } from './transport';
import type { AMQHandler, ErrorContext, ErrorHook, MessageCallback } from './types';

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

class Handler implements AMQHandler {
  callback: MessageCallback | null;
  onError: ErrorHook;
  readonly logger: Logger;
  readonly #exchangePrefix: string;
  readonly #sendTimeoutMs: number;
  readonly #bindings = new Bindings();
  readonly #dispatcher: Dispatcher;
  #transport: Transport | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: HandlerOptions) {
    this.#exchangePrefix = options.exchangePrefix ?? '';
    this.logger = options.logger ?? stderrLogger;
    this.callback = options.callback ?? null;
    this.onError =
      options.onError ??
      ((error, context) => this.logger.error(`${context.source} error`, { ...context, error }));
    this.#sendTimeoutMs = positive('sendTimeoutMs', options.sendTimeoutMs ?? 10_000);
    this.#dispatcher = new Dispatcher(this, {
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
      deliver: (delivery) => this.#dispatcher.push(delivery),
      bindings: () => this.#bindings.entries(),
      reportError: (error) => this.report(error, { source: 'connection' }),
      backlog: this.#dispatcher,
    };
    const transport = await factory(context);
    this.#dispatcher.appliesBackpressure = transport.appliesBackpressure === true;
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

  send(message: Message): Promise<void> {
    let exchange: AMQExchangeName;
    let routingKey: string;
    let body: string;
    try {
      const transport = this.#open('send');
      body = encodeMessage(message);
      exchange = exchangeOfKind(message.kind);
      routingKey = routingKeyOf(message);
      this.#checkKey(transport, 'send', routingKey);
      return this.#publish(transport, exchange, routingKey, body);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  bindCallbackState(state: string): Promise<void> {
    return this.#bind('callbacks', state, 'bindCallbackState', 'state');
  }

  unbindCallbackState(state: string): Promise<void> {
    return this.#unbind('callbacks', state, 'unbindCallbackState', 'state');
  }

  bindOpenIDCIBARequestIdentifier(requestId: string): Promise<void> {
    return this.#bind(
      'openid_ciba_callbacks',
      requestId,
      'bindOpenIDCIBARequestIdentifier',
      'requestId',
    );
  }

  unbindOpenIDCIBARequestIdentifier(requestId: string): Promise<void> {
    return this.#unbind(
      'openid_ciba_callbacks',
      requestId,
      'unbindOpenIDCIBARequestIdentifier',
      'requestId',
    );
  }

  bindPowensDomainWebhooks(domain: string): Promise<void> {
    return this.#bind('powens_domain_webhooks', domain, 'bindPowensDomainWebhooks', 'domain');
  }

  unbindPowensDomainWebhooks(domain: string): Promise<void> {
    return this.#unbind('powens_domain_webhooks', domain, 'unbindPowensDomainWebhooks', 'domain');
  }

  close(): Promise<void> {
    if (this.#closing === null) this.#closing = this.#shutdown();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  get [transportKey](): Transport | null {
    return this.#transport;
  }

  get [backlogKey](): Dispatcher {
    return this.#dispatcher;
  }

  [publishRaw](
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
  ): Promise<void> {
    return this.#publish(this.#open('publish'), exchange, routingKey, body);
  }

  /** Hands an error nothing awaits to `onError`; a throwing hook is logged, never rethrown. */
  report(error: unknown, context: ErrorContext): void {
    try {
      this.onError(error, context);
    } catch (hookError) {
      this.logger.error('the error hook threw', { error: hookError });
    }
  }

  async #shutdown(): Promise<void> {
    this.#dispatcher.stop();
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

  #bind(exchange: AMQExchangeName, key: string, method: string, argument: string): Promise<void> {
    let transport: Transport;
    try {
      transport = this.#open(method);
      this.#checkKey(transport, method, key, argument);
    } catch (error) {
      return Promise.reject(error);
    }
    const deadline = this.#deadline(AMQBindError, transport, `${method}() on ${exchange}`);
    const work = this.#bindings.serialize(exchange, key, async () => {
      if (this.#bindings.has(exchange, key) || deadline.signal.aborted) return;
      this.#open(method);
      // Bound before the broker confirms, so nothing that arrives meanwhile is dropped.
      this.#bindings.add(exchange, key);
      try {
        await transport.bind(exchange, key, deadline.signal);
      } catch (error) {
        this.#bindings.delete(exchange, key);
        throw brokerError(AMQBindError, transport, `${method}() failed`, error);
      }
      if (deadline.signal.aborted && this.#bindings.has(exchange, key)) {
        // The caller was told it failed: the broker must not keep what core does not have.
        this.#bindings.delete(exchange, key);
        await this.#undoBind(transport, exchange, key);
      }
    });
    return deadline.race(work);
  }

  #unbind(exchange: AMQExchangeName, key: string, method: string, argument: string): Promise<void> {
    let transport: Transport;
    try {
      transport = this.#open(method);
      this.#checkKey(transport, method, key, argument);
    } catch (error) {
      return Promise.reject(error);
    }
    const deadline = this.#deadline(AMQBindError, transport, `${method}() on ${exchange}`);
    const work = this.#bindings.serialize(exchange, key, async () => {
      if (!this.#bindings.has(exchange, key)) return;
      this.#open(method);
      // Unbound at once: nothing for this key reaches the callback after this call.
      this.#bindings.delete(exchange, key);
      await transport.unbind(exchange, key, deadline.signal).catch((error: unknown) => {
        throw brokerError(AMQBindError, transport, `${method}() failed`, error);
      });
    });
    return deadline.race(work);
  }

  /** Unbinds a key whose bind completed after its caller gave up on it. */
  async #undoBind(transport: Transport, exchange: AMQExchangeName, key: string): Promise<void> {
    const deadline = this.#deadline(AMQBindError, transport, `undoing a late bind on ${exchange}`);
    try {
      await transport.unbind(exchange, key, deadline.signal);
    } catch (error) {
      this.report(brokerError(AMQBindError, transport, 'undoing a late bind failed', error), {
        source: 'connection',
        exchange,
      });
    } finally {
      deadline.clear();
    }
  }

  #publish(
    transport: Transport,
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
  ): Promise<void> {
    const deadline = this.#deadline(
      AMQSendError,
      transport,
      (ms) => `the broker did not accept the message on ${exchange} within ${ms} ms`,
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

  /** The deadline of one operation: `sendTimeoutMs` from now. */
  #deadline(
    Kind: typeof AMQSendError | typeof AMQBindError,
    transport: Transport,
    what: string | ((timeoutMs: number) => string),
  ): Deadline {
    const timeoutMs = this.#sendTimeoutMs;
    const message =
      typeof what === 'string'
        ? `${what}: no answer from the broker within ${timeoutMs} ms`
        : what(timeoutMs);
    return new Deadline(timeoutMs, () => new Kind(`[${transport.name}] ${message}`));
  }

  #open(method: string): Transport {
    if (this.#closing !== null || this.#transport === null) {
      throw new AMQClosedError(`[@teal/amq-core] ${method}() after close(): make a new handler`);
    }
    return this.#transport;
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

/**
 * One operation's deadline: a signal the transport gets, which fires with a
 * timeout error after `timeoutMs`, and the caller's promise, which rejects at
 * that instant whatever the transport does.
 */
class Deadline {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout>;

  constructor(timeoutMs: number, reason: () => Error) {
    this.#timer = setTimeout(() => this.#controller.abort(reason()), timeoutMs);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** `work`'s outcome, or the deadline's error if it fires first. */
  race(work: Promise<void>): Promise<void> {
    const signal = this.#controller.signal;
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      work.then(
        () => {
          this.clear();
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        (error: unknown) => {
          this.clear();
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  /** Resolves `graceMs` after the deadline fired. */
  expiry(graceMs: number): Promise<void> {
    const signal = this.#controller.signal;
    return new Promise((resolve) => {
      const later = () => setTimeout(resolve, graceMs).unref?.();
      if (signal.aborted) later();
      else signal.addEventListener('abort', later, { once: true });
    });
  }

  clear(): void {
    clearTimeout(this.#timer);
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
