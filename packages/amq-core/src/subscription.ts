import type { Message } from '@teal/messages';
import { Fifo } from './fifo';
import type { KeyListener } from './listeners';
import type { KeySubscription } from './types';

interface Pending<T> {
  readonly resolve: (result: IteratorResult<T, undefined>) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The iterator `subscribe()` returns: every message of one key, in order,
 * until `return()` (a `break`), the caller's signal, or the handler's close.
 * It holds at most `highWaterMark` messages; while full, the handler's
 * delivery waits for it, as for a slow callback, so the backlog bounds apply
 * instead of this buffer growing.
 */
export class Subscription<T extends Message> implements KeySubscription<T>, KeyListener {
  /** Set by the handler once it started the bind. */
  bound: Promise<void> = Promise.resolve();
  readonly #highWaterMark: number;
  readonly #onEnd: () => void;
  readonly #buffer = new Fifo<T>();
  #pending: Pending<T> | null = null;
  /** Resolves a delivery waiting for room. */
  #hasRoom: (() => void) | null = null;
  #isEnded = false;
  #isReleased = false;
  /** Thrown by `next()` once the buffer is empty: the handler closed, or the bind failed. */
  #failure: { readonly error: unknown } | null = null;

  /** `onEnd` runs once, when the subscription ends for any reason. */
  constructor(highWaterMark: number, onEnd: () => void) {
    this.#highWaterMark = highWaterMark;
    this.#onEnd = onEnd;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  accept(message: Message): Promise<void> | undefined {
    if (this.#isEnded || this.#failure !== null) return undefined;
    const pending = this.#pending;
    if (pending !== null) {
      this.#pending = null;
      pending.resolve({ value: message as T, done: false });
      return undefined;
    }
    this.#buffer.push(message as T);
    if (this.#buffer.size < this.#highWaterMark) return undefined;
    return new Promise<void>((resolve) => {
      this.#hasRoom = resolve;
    });
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#buffer.size > 0) {
      const value = this.#buffer.shift()!;
      this.#wakeDelivery();
      return Promise.resolve({ value, done: false });
    }
    if (this.#failure !== null) {
      const { error } = this.#failure;
      this.#failure = null;
      this.#end();
      return Promise.reject(error);
    }
    if (this.#isEnded) return Promise.resolve({ value: undefined, done: true });
    if (this.#pending !== null) {
      return Promise.reject(
        new TypeError('[@teal/amq-core] next() called before the previous one settled'),
      );
    }
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
    });
  }

  /** Ends the subscription (`break` calls it): buffered messages are dropped, the key released. */
  return(): Promise<IteratorResult<T, undefined>> {
    this.#end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T, undefined>> {
    this.#end();
    return Promise.reject(error);
  }

  /**
   * Makes `next()` throw `error`: at once when `dropBuffered` (an abort), or
   * once the buffered messages were taken (the handler closed gracefully).
   */
  fail(error: unknown, dropBuffered: boolean): void {
    if (this.#isEnded || this.#failure !== null) return;
    if (dropBuffered) this.#buffer.drain();
    const pending = this.#pending;
    if (pending !== null) {
      this.#pending = null;
      this.#end();
      pending.reject(error);
      return;
    }
    this.#failure = { error };
    this.#wakeDelivery();
    // Nobody may ever call next() again: the key goes now, not at the next call.
    if (this.#buffer.size === 0) this.#release();
  }

  #end(): void {
    if (this.#isEnded) return;
    this.#isEnded = true;
    this.#buffer.drain();
    const pending = this.#pending;
    this.#pending = null;
    pending?.resolve({ value: undefined, done: true });
    this.#wakeDelivery();
    this.#release();
  }

  #release(): void {
    if (this.#isReleased) return;
    this.#isReleased = true;
    this.#onEnd();
  }

  #wakeDelivery(): void {
    const hasRoom = this.#hasRoom;
    if (hasRoom === null) return;
    if (this.#isEnded || this.#failure !== null || this.#buffer.size < this.#highWaterMark) {
      this.#hasRoom = null;
      hasRoom();
    }
  }
}
