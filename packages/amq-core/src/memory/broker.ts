import type { AMQExchangeName } from '@teal/amq-core/adapter';

/** A subscriber's end of a binding: where the broker delivers. */
export interface MemorySubscriber {
  receive(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    headers: Readonly<Record<string, string>> | undefined,
  ): void;
}

interface Subscription {
  readonly subscriber: MemorySubscriber;
  /** The exchange as the subscriber names it (without its prefix). */
  readonly exchange: AMQExchangeName;
}

// One registry per process, kept on a registered symbol: every copy of core (its
// ESM and CJS builds, a bundled copy) finds the same broker for `memory://name`.
const registry = globalThis as { [key: symbol]: Map<string, MemoryBroker> | undefined };
const REGISTRY_KEY = Symbol.for('@teal/amq-core.memoryBrokers');
registry[REGISTRY_KEY] ??= new Map<string, MemoryBroker>();
const brokers = registry[REGISTRY_KEY];

/**
 * An in-process broker with direct-exchange semantics: every subscriber bound
 * to a key of an exchange gets its own copy, in publish order. Exchanges are
 * named with their prefix, as on a real broker.
 */
export class MemoryBroker {
  readonly name: string;
  readonly #exchanges = new Map<string, Map<string, Set<Subscription>>>();

  private constructor(name: string) {
    this.name = name;
  }

  /** The broker of this name in this process (`memory://name`); `''` is the default one. */
  static named(name: string): MemoryBroker {
    let broker = brokers.get(name);
    if (broker === undefined) {
      broker = new MemoryBroker(name);
      brokers.set(name, broker);
    }
    return broker;
  }

  bind(
    fullExchange: string,
    exchange: AMQExchangeName,
    routingKey: string,
    subscriber: MemorySubscriber,
  ): object {
    let keys = this.#exchanges.get(fullExchange);
    if (keys === undefined) {
      keys = new Map();
      this.#exchanges.set(fullExchange, keys);
    }
    let subscriptions = keys.get(routingKey);
    if (subscriptions === undefined) {
      subscriptions = new Set();
      keys.set(routingKey, subscriptions);
    }
    const subscription: Subscription = { subscriber, exchange };
    subscriptions.add(subscription);
    return subscription;
  }

  unbind(fullExchange: string, routingKey: string, subscription: object): void {
    const keys = this.#exchanges.get(fullExchange);
    const subscriptions = keys?.get(routingKey);
    if (keys === undefined || subscriptions === undefined) return;
    subscriptions.delete(subscription as Subscription);
    if (subscriptions.size === 0) keys.delete(routingKey);
    if (keys.size === 0) this.#exchanges.delete(fullExchange);
  }

  /** Routes a body to every subscriber of the key, each on a later microtask, in order. */
  publish(
    fullExchange: string,
    routingKey: string,
    body: string | Uint8Array,
    headers?: Readonly<Record<string, string>>,
  ): void {
    const subscriptions = this.#exchanges.get(fullExchange)?.get(routingKey);
    if (subscriptions === undefined) return;
    for (const { subscriber, exchange } of subscriptions) {
      // Each subscriber gets its own copy, as across a network.
      const copy = typeof body === 'string' ? body : body.slice();
      queueMicrotask(() => subscriber.receive(exchange, routingKey, copy, headers));
    }
  }

  /** The bindings one subscriber holds, as `binding <exchange> <key>`: what the broker routes to it. */
  bindingsOf(subscriber: MemorySubscriber): string[] {
    const bindings: string[] = [];
    for (const keys of this.#exchanges.values()) {
      for (const [key, subscriptions] of keys) {
        for (const subscription of subscriptions) {
          if (subscription.subscriber === subscriber) {
            bindings.push(`binding ${subscription.exchange} ${key}`);
          }
        }
      }
    }
    return bindings;
  }

  /** How many bindings the broker holds: zero once every handler closed. */
  get bindingCount(): number {
    let count = 0;
    for (const keys of this.#exchanges.values()) {
      for (const subscriptions of keys.values()) count += subscriptions.size;
    }
    return count;
  }
}
