import { decodeMessage, type Message, MessageDecodeError } from '@teal/messages';
import { AMQBacklogOverflowError } from './errors';
import { kindOfExchange } from './exchanges';
import type { Logger } from './logger';
import type { Backlog, Delivery } from './transport';
import type { ErrorContext, MessageCallback } from './types';

interface DispatcherHost {
  readonly callback: MessageCallback | null;
  readonly logger: Logger;
  isBound(delivery: Delivery): boolean;
  report(error: unknown, context: ErrorContext): void;
}

export interface DispatcherOptions {
  /** How many callbacks may run at once. */
  readonly concurrency: number;
  readonly maxBacklog: number;
  readonly maxBacklogBytes: number;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

/**
 * Runs the callback on deliveries in arrival order, at most `concurrency` at
 * a time (1: each awaited before the next). Undecodable bodies, unbound keys
 * and deliveries without a callback are dropped; every delivery is settled.
 * What waits for the callback is bounded (`maxBacklog`, `maxBacklogBytes`):
 * a transport that applies backpressure waits for room, and from one that
 * does not, deliveries over the bounds are dropped, counted and reported.
 */
export class Dispatcher implements Backlog {
  readonly #host: DispatcherHost;
  readonly #options: DispatcherOptions;
  /** The transport holds the broker back when the backlog is full: nothing is dropped here. */
  appliesBackpressure = false;
  // A FIFO as an array and a head index: shift() on a long array is O(n).
  #queue: Delivery[] = [];
  #head = 0;
  #bytes = 0;
  #running = 0;
  #isPumping = false;
  #isStopped = false;
  #waiters: Waiter[] = [];
  /** Deliveries dropped over the bounds in the current overflow, and ever. */
  #overflowing = 0;
  #overflowed = 0;

  constructor(host: DispatcherHost, options: DispatcherOptions) {
    this.#host = host;
    this.#options = options;
  }

  get maxMessages(): number {
    return this.#options.maxBacklog;
  }

  get maxBytes(): number {
    return this.#options.maxBacklogBytes;
  }

  /** How many deliveries wait for the callback. */
  get messages(): number {
    return this.#queue.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get room(): number {
    if (this.#bytes >= this.#options.maxBacklogBytes) return 0;
    return Math.max(0, this.#options.maxBacklog - this.messages);
  }

  /** Deliveries dropped because the backlog was full, since the handler opened. */
  get overflowed(): number {
    return this.#overflowed;
  }

  untilRoom(signal?: AbortSignal): Promise<void> {
    if (this.room > 0 || this.#isStopped) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.#waiters = this.#waiters.filter((other) => other !== waiter);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  push(delivery: Delivery): void {
    if (this.#isStopped) {
      delivery.settled?.();
      return;
    }
    // Once full, it drops until the backlog drained to half: no report storm at the edge.
    if (!this.appliesBackpressure && (this.#overflowing > 0 || this.room === 0)) {
      this.#overflow(delivery);
      return;
    }
    this.#queue.push(delivery);
    this.#bytes += sizeOf(delivery.body);
    this.#pump();
  }

  /** Drops what waits; callbacks already running finish on their own. */
  stop(): void {
    this.#isStopped = true;
    const dropped = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    this.#bytes = 0;
    for (const delivery of dropped) delivery.settled?.();
    if (this.#overflowing > 0) this.#endOverflow();
    this.#wakeWaiters();
  }

  #pump(): void {
    if (this.#isPumping) return;
    this.#isPumping = true;
    try {
      while (this.#running < this.#options.concurrency && this.#head < this.#queue.length) {
        const delivery = this.#queue[this.#head]!;
        this.#head++;
        if (this.#head === this.#queue.length) {
          this.#queue = [];
          this.#head = 0;
        } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
          this.#queue = this.#queue.slice(this.#head);
          this.#head = 0;
        }
        this.#bytes -= sizeOf(delivery.body);
        if (this.#waiters.length > 0 || this.#overflowing > 0) this.#wakeWaiters();
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

  /**
   * Once the backlog drained to half its bounds (or delivery stopped): wakes
   * `untilRoom()` and ends an overflow.
   */
  #wakeWaiters(): void {
    const hasRoom =
      this.#isStopped ||
      (this.messages <= this.#options.maxBacklog / 2 &&
        this.#bytes <= this.#options.maxBacklogBytes / 2);
    if (!hasRoom) return;
    if (this.#overflowing > 0) this.#endOverflow();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve();
    }
  }

  #overflow(delivery: Delivery): void {
    this.#overflowing++;
    this.#overflowed++;
    delivery.settled?.();
    if (this.#overflowing === 1) {
      this.#host.report(
        new AMQBacklogOverflowError(
          `[@teal/amq-core] the callback does not keep up: ${this.messages} messages (${this.#bytes} bytes) wait for it, the backlog's bound (maxBacklog ${this.#options.maxBacklog}, maxBacklogBytes ${this.#options.maxBacklogBytes}); dropping what arrives until half of it drained`,
          1,
        ),
        { source: 'backlog', exchange: delivery.exchange },
      );
    }
  }

  #endOverflow(): void {
    const dropped = this.#overflowing;
    this.#overflowing = 0;
    this.#host.report(
      new AMQBacklogOverflowError(
        `[@teal/amq-core] dropped ${dropped} messages while the backlog was full; delivering again`,
        dropped,
      ),
      { source: 'backlog' },
    );
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
          : 'the body could not be decoded';
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
    this.#host.report(error, { source: 'callback', exchange: delivery.exchange });
  }
}

function sizeOf(body: string | Uint8Array): number {
  return typeof body === 'string' ? body.length : body.byteLength;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
