import { decodeMessage, type Message, MessageDecodeError } from '@teal/messages';
import { kindOfExchange } from './exchanges';
import type { Logger } from './logger';
import type { Delivery } from './transport';
import type { ErrorHook, MessageCallback } from './types';

interface DispatcherHost {
  readonly callback: MessageCallback | null;
  readonly onError: ErrorHook;
  readonly logger: Logger;
  isBound(delivery: Delivery): boolean;
}

/**
 * Runs the callback on deliveries in arrival order, at most `concurrency` at
 * a time (1: each awaited before the next). Undecodable bodies, unbound keys
 * and deliveries without a callback are dropped; every delivery is settled.
 */
export class Dispatcher {
  readonly #host: DispatcherHost;
  readonly #concurrency: number;
  // A FIFO as an array and a head index: shift() on a long array is O(n).
  #queue: Delivery[] = [];
  #head = 0;
  #running = 0;
  #isPumping = false;
  #isStopped = false;

  constructor(host: DispatcherHost, concurrency: number) {
    this.#host = host;
    this.#concurrency = concurrency;
  }

  /** How many deliveries wait for the callback. */
  get backlog(): number {
    return this.#queue.length - this.#head;
  }

  push(delivery: Delivery): void {
    if (this.#isStopped) {
      delivery.settled?.();
      return;
    }
    this.#queue.push(delivery);
    this.#pump();
  }

  /** Drops what waits; callbacks already running finish on their own. */
  stop(): void {
    this.#isStopped = true;
    const dropped = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    for (const delivery of dropped) delivery.settled?.();
  }

  #pump(): void {
    if (this.#isPumping) return;
    this.#isPumping = true;
    try {
      while (this.#running < this.#concurrency && this.#head < this.#queue.length) {
        const delivery = this.#queue[this.#head]!;
        this.#head++;
        if (this.#head === this.#queue.length) {
          this.#queue = [];
          this.#head = 0;
        } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
          this.#queue = this.#queue.slice(this.#head);
          this.#head = 0;
        }
        const pending = this.#run(delivery);
        if (pending === undefined) {
          delivery.settled?.();
          continue;
        }
        this.#running++;
        void pending.then(() => {
          this.#running--;
          delivery.settled?.();
          this.#pump();
        });
      }
    } finally {
      this.#isPumping = false;
    }
  }

  /** Runs one delivery; returns a promise only when the callback returned one. */
  #run(delivery: Delivery): Promise<void> | undefined {
    const host = this.#host;
    const callback = host.callback;
    if (this.#isStopped || callback === null || !host.isBound(delivery)) return undefined;
    let message: Message;
    try {
      message = decodeMessage(kindOfExchange(delivery.exchange), delivery.body);
    } catch (error) {
      // The reason names the field, never its value: bodies carry tokens.
      const reason =
        error instanceof MessageDecodeError
          ? `${error.field ?? 'body'} ${error.reason}`
          : String(error);
      host.logger.warn('dropped a message that is not valid', {
        exchange: delivery.exchange,
        reason,
      });
      return undefined;
    }
    let result: unknown;
    try {
      result = callback(message);
    } catch (error) {
      this.#report(error, delivery);
      return undefined;
    }
    if (!isPromiseLike(result)) return undefined;
    return Promise.resolve(result).then(
      () => undefined,
      (error: unknown) => this.#report(error, delivery),
    );
  }

  #report(error: unknown, delivery: Delivery): void {
    try {
      this.#host.onError(error, { source: 'callback', exchange: delivery.exchange });
    } catch (hookError) {
      this.#host.logger.error('the error hook threw', { error: hookError });
    }
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
