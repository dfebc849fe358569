import { encodeMessage, type Message, routingKeyOf } from '@teal/messages';
import { Bindings } from './bindings';
import { Dispatcher } from './dispatcher';
import { AMQBindError, AMQClosedError, AMQError, AMQRoutingKeyError, AMQSendError } from './errors';
import { type AMQExchangeName, exchangeOfKind } from './exchanges';
import { type Logger, stderrLogger } from './logger';
import type { Delivery, Transport, TransportContext, TransportFactory } from './transport';
import type { AMQHandler, ErrorHook, MessageCallback } from './types';

/** Options every handler takes, whatever its adapter. */
export interface HandlerOptions {
  /** Prepended to every exchange name; isolates applications sharing a broker. Default `''`. */
  exchangePrefix?: string;
  /** Where the handler logs. Default: warnings and errors as JSON on stderr. */
  logger?: Logger;
  /** How many callbacks may run at once. Default 1: each is awaited before the next. */
  concurrency?: number;
  /** How long `send()` waits for the broker, outages included, before it rejects. Default 10 s. */
  sendTimeoutMs?: number;
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
    this.#dispatcher = new Dispatcher(this, positive('concurrency', options.concurrency ?? 1));
  }

  async open(factory: TransportFactory): Promise<void> {
    const context: TransportContext = {
      exchangePrefix: this.#exchangePrefix,
      logger: this.logger,
      sendTimeoutMs: this.#sendTimeoutMs,
      deliver: (delivery) => this.#dispatcher.push(delivery),
      bindings: () => this.#bindings.entries(),
      reportError: (error) => this.#reportConnectionError(error),
    };
    this.#transport = await factory(context);
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

  [publishRaw](
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
  ): Promise<void> {
    return this.#publish(this.#open('publish'), exchange, routingKey, body);
  }

  async #shutdown(): Promise<void> {
    this.#dispatcher.stop();
    // The transport first: a bind waiting out an outage must not hold close() up.
    await this.#transport?.close();
    await this.#bindings.settled();
  }

  #bind(exchange: AMQExchangeName, key: string, method: string, argument: string): Promise<void> {
    try {
      const transport = this.#open(method);
      this.#checkKey(transport, method, key, argument);
      return this.#bindings.serialize(exchange, key, async () => {
        if (this.#bindings.has(exchange, key)) return;
        this.#open(method);
        // Bound before the broker confirms, so nothing that arrives meanwhile is dropped.
        this.#bindings.add(exchange, key);
        try {
          await transport.bind(exchange, key);
        } catch (error) {
          this.#bindings.delete(exchange, key);
          throw brokerError(AMQBindError, transport, `${method}() failed`, error);
        }
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #unbind(exchange: AMQExchangeName, key: string, method: string, argument: string): Promise<void> {
    try {
      const transport = this.#open(method);
      this.#checkKey(transport, method, key, argument);
      return this.#bindings.serialize(exchange, key, async () => {
        if (!this.#bindings.has(exchange, key)) return;
        this.#open(method);
        // Unbound at once: nothing for this key reaches the callback after this call.
        this.#bindings.delete(exchange, key);
        await transport.unbind(exchange, key).catch((error: unknown) => {
          throw brokerError(AMQBindError, transport, `${method}() failed`, error);
        });
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #publish(
    transport: Transport,
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
  ): Promise<void> {
    const timeoutMs = this.#sendTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new AMQSendError(
            `[${transport.name}] the broker did not accept the message on ${exchange} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      transport.publish(exchange, routingKey, body).then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(
            brokerError(
              AMQSendError,
              transport,
              `the broker did not accept the message on ${exchange}`,
              error,
            ),
          );
        },
      );
    });
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

  #reportConnectionError(error: unknown): void {
    try {
      this.onError(error, { source: 'connection' });
    } catch (hookError) {
      this.logger.error('the error hook threw', { error: hookError });
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
