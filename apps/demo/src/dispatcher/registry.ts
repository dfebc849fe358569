import type { AMQHandler } from '@teal/amq-core';
import { type Message, type MessageKind, routingKeyOf } from '@teal/messages';
import type { Registration } from './protocol';

/** Something waiting on keys: a WebSocket connection. */
export interface Subscriber {
  deliver(message: Message): void;
}

interface Entry {
  readonly subscribers: Set<Subscriber>;
  /** Settles once the broker binding is in place. */
  readonly bound: Promise<void>;
}

/**
 * Reference-counts the keys subscribers wait on over one handler: the first
 * subscriber of a key binds it on the broker, the last one to leave unbinds it.
 */
export class KeyRegistry {
  readonly #handler: AMQHandler;
  readonly #entries = new Map<string, Entry>();
  readonly #onUnbindError: (error: unknown) => void;

  constructor(handler: AMQHandler, onUnbindError: (error: unknown) => void = () => {}) {
    this.#handler = handler;
    this.#onUnbindError = onUnbindError;
  }

  /** How many keys are bound (or being bound) on the broker. */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether a key is bound (or being bound) for some subscriber. */
  has(registration: Registration): boolean {
    return this.#entries.has(idOf(registration.kind, registration.key));
  }

  /** Adds a subscriber to a key; resolves once messages for it will be delivered. */
  async acquire(subscriber: Subscriber, registration: Registration): Promise<void> {
    const id = idOf(registration.kind, registration.key);
    let entry = this.#entries.get(id);
    if (entry === undefined) {
      const created: Entry = { subscribers: new Set(), bound: this.#bind(registration) };
      created.bound.catch(() => {
        // A failed bind leaves nothing on the broker: forget the key for everyone.
        if (this.#entries.get(id) === created) this.#entries.delete(id);
      });
      this.#entries.set(id, created);
      entry = created;
    }
    entry.subscribers.add(subscriber);
    await entry.bound;
  }

  /** Removes a subscriber from a key; the last one out unbinds it from the broker. */
  release(subscriber: Subscriber, registration: Registration): void {
    const id = idOf(registration.kind, registration.key);
    const entry = this.#entries.get(id);
    if (entry === undefined || !entry.subscribers.delete(subscriber)) return;
    if (entry.subscribers.size > 0) return;
    this.#entries.delete(id);
    // The handler orders this after the pending bind of the same key.
    this.#unbind(registration).catch(this.#onUnbindError);
  }

  /** Hands a message from the broker to every subscriber waiting on its key. */
  dispatch(message: Message): void {
    const entry = this.#entries.get(idOf(message.kind, routingKeyOf(message)));
    if (entry === undefined) return;
    for (const subscriber of entry.subscribers) subscriber.deliver(message);
  }

  #bind({ kind, key }: Registration): Promise<void> {
    switch (kind) {
      case 'callback':
        return this.#handler.bindCallbackState(key);
      case 'openid_ciba_callback':
        return this.#handler.bindOpenIDCIBARequestIdentifier(key);
      case 'powens_webhook':
        return this.#handler.bindPowensDomainWebhooks(key);
    }
  }

  #unbind({ kind, key }: Registration): Promise<void> {
    switch (kind) {
      case 'callback':
        return this.#handler.unbindCallbackState(key);
      case 'openid_ciba_callback':
        return this.#handler.unbindOpenIDCIBARequestIdentifier(key);
      case 'powens_webhook':
        return this.#handler.unbindPowensDomainWebhooks(key);
    }
  }
}

function idOf(kind: MessageKind, key: string): string {
  return `${kind}\u0000${key}`;
}
