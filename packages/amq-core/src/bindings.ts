import type { AMQExchangeName } from './exchanges';

/**
 * The keys a handler is bound to, per exchange, and the broker operations in
 * flight for each: operations on one key run one after the other, so a bind
 * racing an unbind ends in the state of the last call.
 */
export class Bindings {
  readonly #keys = new Map<AMQExchangeName, Set<string>>();
  readonly #inFlight = new Map<string, Promise<void>>();

  has(exchange: AMQExchangeName, key: string): boolean {
    return this.#keys.get(exchange)?.has(key) ?? false;
  }

  add(exchange: AMQExchangeName, key: string): void {
    let keys = this.#keys.get(exchange);
    if (keys === undefined) {
      keys = new Set();
      this.#keys.set(exchange, keys);
    }
    keys.add(key);
  }

  delete(exchange: AMQExchangeName, key: string): void {
    this.#keys.get(exchange)?.delete(key);
  }

  get size(): number {
    let size = 0;
    for (const keys of this.#keys.values()) size += keys.size;
    return size;
  }

  *entries(): IterableIterator<readonly [AMQExchangeName, string]> {
    for (const [exchange, keys] of this.#keys) {
      for (const key of keys) yield [exchange, key];
    }
  }

  /** Runs `operation` after every earlier operation on the same key has settled. */
  serialize(exchange: AMQExchangeName, key: string, operation: () => Promise<void>): Promise<void> {
    const id = `${exchange}\u0000${key}`;
    const previous = this.#inFlight.get(id);
    const next = previous === undefined ? operation() : previous.then(operation, operation);
    const tracked = next.finally(() => {
      if (this.#inFlight.get(id) === tracked) this.#inFlight.delete(id);
    });
    // Callers see `next`'s outcome; the chain itself must not reject unhandled.
    tracked.catch(() => {});
    this.#inFlight.set(id, tracked);
    return next;
  }

  /** Settles once every operation in flight has. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#inFlight.values());
  }
}
