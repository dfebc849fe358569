import type { Message } from '@teal/messages';
import type { AMQExchangeName } from './exchanges';

/** Something that takes the messages of one key: a `waitFor()` call, a `subscribe()` iterator. */
export interface KeyListener {
  /**
   * Takes a message of its key. A promise means it cannot take another yet
   * (a full subscription): delivery waits for it, as for an async callback.
   */
  accept(message: Message): Promise<void> | undefined;
}

/** The listeners of each key, besides the handler's `callback`. */
export class Listeners {
  readonly #byKey = new Map<string, Set<KeyListener>>();

  add(exchange: AMQExchangeName, key: string, listener: KeyListener): void {
    const id = idOf(exchange, key);
    let listeners = this.#byKey.get(id);
    if (listeners === undefined) {
      listeners = new Set();
      this.#byKey.set(id, listeners);
    }
    listeners.add(listener);
  }

  remove(exchange: AMQExchangeName, key: string, listener: KeyListener): void {
    const id = idOf(exchange, key);
    const listeners = this.#byKey.get(id);
    if (listeners === undefined) return;
    listeners.delete(listener);
    if (listeners.size === 0) this.#byKey.delete(id);
  }

  has(exchange: AMQExchangeName, key: string): boolean {
    return this.#byKey.has(idOf(exchange, key));
  }

  /** Hands the message to every listener of its key; a promise while one of them is full. */
  route(exchange: AMQExchangeName, key: string, message: Message): Promise<void> | undefined {
    const listeners = this.#byKey.get(idOf(exchange, key));
    if (listeners === undefined) return undefined;
    let waits: Promise<void>[] | undefined;
    // A copy: a waiter leaves its set when it takes the message.
    for (const listener of [...listeners]) {
      const wait = listener.accept(message);
      if (wait === undefined) continue;
      waits ??= [];
      waits.push(wait);
    }
    return waits === undefined ? undefined : Promise.all(waits).then(ignore);
  }

  /** Every listener, for `close()`. */
  *all(): IterableIterator<KeyListener> {
    for (const listeners of this.#byKey.values()) yield* listeners;
  }
}

function idOf(exchange: AMQExchangeName, key: string): string {
  return `${exchange}\u0000${key}`;
}

function ignore(): void {}
