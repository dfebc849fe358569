import {
  type AMQExchangeName,
  type AMQHandler,
  type ConnectOptions,
  createHandler,
  parseBrokerUrl,
  raceSignal,
  type Transport,
  type TransportContext,
} from '@teal/amq-core/adapter';
import { MemoryBroker, type MemorySubscriber } from './broker';

/**
 * Connects a handler to an in-process broker: `memory://` is the default one,
 * `memory://name` a separate one. Bodies cross it through the real wire codec.
 */
export async function connectMemory(options: ConnectOptions): Promise<AMQHandler> {
  const url = parseBrokerUrl(options.url, 'url');
  if (url.protocol !== 'memory:') {
    throw new TypeError(`[@teal/amq-core] connectMemory() takes memory: URLs, not ${url.protocol}`);
  }
  const broker = MemoryBroker.named(url.hostname);
  return createHandler(async (context) => new MemoryTransport(broker, context), options);
}

/** The memory adapter's transport: bindings on an in-process `MemoryBroker`. */
export class MemoryTransport implements Transport, MemorySubscriber {
  readonly name = '@teal/amq-core (memory)';
  readonly #broker: MemoryBroker;
  readonly #context: TransportContext;
  readonly #subscriptions = new Map<string, object>();
  #isConnected = true;
  #reconnected: Promise<void> = Promise.resolve();

  constructor(broker: MemoryBroker, context: TransportContext) {
    this.#broker = broker;
    this.#context = context;
  }

  get isConnected(): boolean {
    return this.#isConnected;
  }

  async publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    signal: AbortSignal,
    headers?: Readonly<Record<string, string>>,
  ): Promise<void> {
    await this.#connected(signal);
    this.#broker.publish(this.#fullName(exchange), routingKey, body, headers);
  }

  async bind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void> {
    await this.#connected(signal);
    this.#subscribe(exchange, routingKey);
  }

  async unbind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    const id = subscriptionId(exchange, routingKey);
    const subscription = this.#subscriptions.get(id);
    if (subscription === undefined) return;
    this.#subscriptions.delete(id);
    this.#broker.unbind(this.#fullName(exchange), routingKey, subscription);
  }

  async close(): Promise<void> {
    this.#dropSubscriptions();
    this.#isConnected = false;
  }

  resources(): readonly string[] {
    return [...this.#subscriptions.keys()].map((id) => `binding ${id.replace('\u0000', ' ')}`);
  }

  receive(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    headers: Readonly<Record<string, string>> | undefined,
  ): void {
    this.#context.deliver(
      headers === undefined
        ? { exchange, routingKey, body }
        : { exchange, routingKey, body, headers },
    );
  }

  /**
   * Simulates a lost connection: the broker forgets the subscriptions, and
   * after `outageMs` the transport reconnects and restores every binding.
   * Like core NATS, what is published meanwhile is not delivered.
   */
  dropConnection(outageMs = 50): void {
    if (!this.#isConnected) return;
    this.#isConnected = false;
    this.#dropSubscriptions();
    this.#context.connectionChanged(false, new Error('the memory broker dropped the connection'));
    this.#reconnected = new Promise((resolve) => {
      setTimeout(() => {
        for (const [exchange, key] of this.#context.bindings()) this.#subscribe(exchange, key);
        this.#isConnected = true;
        this.#context.connectionChanged(true);
        resolve();
      }, outageMs);
    });
  }

  /** Resolves once connected; rejects, never to write, once `signal` fired. */
  async #connected(signal: AbortSignal): Promise<void> {
    if (!this.#isConnected) {
      await raceSignal(this.#reconnected, signal);
    }
    signal.throwIfAborted();
  }

  #subscribe(exchange: AMQExchangeName, routingKey: string): void {
    const id = subscriptionId(exchange, routingKey);
    if (this.#subscriptions.has(id)) return;
    this.#subscriptions.set(
      id,
      this.#broker.bind(this.#fullName(exchange), exchange, routingKey, this),
    );
  }

  #dropSubscriptions(): void {
    for (const [id, subscription] of this.#subscriptions) {
      const [exchange, routingKey] = id.split('\u0000') as [AMQExchangeName, string];
      this.#broker.unbind(this.#fullName(exchange), routingKey, subscription);
    }
    this.#subscriptions.clear();
  }

  #fullName(exchange: AMQExchangeName): string {
    return this.#context.exchangePrefix + exchange;
  }
}

function subscriptionId(exchange: AMQExchangeName, routingKey: string): string {
  return `${exchange}\u0000${routingKey}`;
}
