import { decodeMessage, type Message, MessageDecodeError } from '@teal/messages';
import {
  type DeliverEvent,
  type DropReason,
  deliverChannel,
  dropChannel,
  type HandlerEventBase,
} from './diagnostics';
import { AMQBacklogOverflowError } from './errors';
import { kindOfExchange } from './exchanges';
import { Fifo } from './fifo';
import type { Logger } from './logger';
import { onAbort } from './timing';
import type { Backlog, Delivery } from './transport';
import type { ErrorContext, MessageCallback } from './types';

interface DeliveryHost {
  readonly callback: MessageCallback | null;
  readonly logger: Logger;
  /** Whether the delivery's key is held: its messages are wanted. */
  isBound(delivery: Delivery): boolean;
  /** Whether a `waitFor()` or `subscribe()` listens to the delivery's key. */
  isListened(delivery: Delivery): boolean;
  /** Hands a message to the listeners of its key; a promise while one of them is full. */
  route(delivery: Delivery, message: Message): Promise<void> | undefined;
  report(error: unknown, context: ErrorContext): void;
  /** Who the diagnostics events are about. */
  readonly eventBase: HandlerEventBase;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

export interface DeliveryQueueOptions {
  /** How many callbacks may run at once. */
  readonly concurrency: number;
  readonly maxBacklog: number;
  readonly maxBacklogBytes: number;
}

interface Waiter {
  readonly resolve: () => void;
  /** Stops listening to the waiter's signal. */
  leave: () => void;
}

/**
 * The deliveries waiting for the handler's callback and listeners, handed to
 * them in arrival order, at most `concurrency` at a time (1: each awaited
 * before the next). Undecodable bodies, unbound keys and deliveries nobody
 * listens to are dropped; every delivery is settled. What waits is bounded
 * (`maxBacklog`, `maxBacklogBytes`): a transport that applies backpressure
 * waits for room, and from one that does not, deliveries over the bounds are
 * dropped, counted and reported.
 */
export class DeliveryQueue implements Backlog {
  readonly #host: DeliveryHost;
  readonly #options: DeliveryQueueOptions;
  /** The transport holds the broker back when the backlog is full: nothing is dropped here. */
  appliesBackpressure = false;
  readonly #queue = new Fifo<Delivery>();
  #bytes = 0;
  #running = 0;
  #isPumping = false;
  #isStopped = false;
  /** Draining for a graceful close: what arrives now is left unsettled, for the broker to keep. */
  #isDraining = false;
  #onIdle: (() => void) | null = null;
  #waiters: Waiter[] = [];
  /** Deliveries dropped over the bounds in the current overflow, and ever. */
  #overflowing = 0;
  #overflowed = 0;

  constructor(host: DeliveryHost, options: DeliveryQueueOptions) {
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
    return this.#queue.size;
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
      const waiter: Waiter = { resolve, leave: () => {} };
      if (signal !== undefined) {
        waiter.leave = onAbort(signal, () => {
          this.#waiters = this.#waiters.filter((other) => other !== waiter);
          reject(signal.reason);
        });
      }
      this.#waiters.push(waiter);
    });
  }

  push(delivery: Delivery): void {
    if (this.#isDraining) return;
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

  /**
   * Takes nothing more, and resolves once every delivery already received was
   * handed over and its callback finished.
   */
  drain(): Promise<void> {
    this.#isDraining = true;
    if (this.#running === 0 && this.messages === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#onIdle = resolve;
    });
  }

  /**
   * Lets go of what still waits, unsettled, so that a broker that redelivers
   * keeps it for someone else; returns how many. Running callbacks finish on
   * their own.
   */
  release(): number {
    const left = this.messages;
    this.#isStopped = true;
    this.#queue.drain();
    this.#bytes = 0;
    this.#wakeWaiters();
    return left;
  }

  /** Drops what waits; callbacks already running finish on their own. */
  stop(): void {
    this.#isStopped = true;
    const dropped = this.#queue.drain();
    this.#bytes = 0;
    for (const delivery of dropped) delivery.settled?.();
    if (this.#overflowing > 0) this.#endOverflow();
    this.#wakeWaiters();
  }

  #pump(): void {
    if (this.#isPumping) return;
    this.#isPumping = true;
    try {
      while (this.#running < this.#options.concurrency && this.#queue.size > 0) {
        const delivery = this.#queue.shift()!;
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
    if (this.#onIdle !== null && this.#running === 0 && this.messages === 0) {
      const onIdle = this.#onIdle;
      this.#onIdle = null;
      onIdle();
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
      waiter.leave();
      waiter.resolve();
    }
  }

  #overflow(delivery: Delivery): void {
    this.#dropped(delivery, 'overflow');
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

  /** Runs one delivery; returns a promise only while a listener or the callback works on it. */
  #run(delivery: Delivery): Promise<void> | undefined {
    const host = this.#host;
    const callback = host.callback;
    if (this.#isStopped) return undefined;
    if (!host.isBound(delivery)) return this.#dropped(delivery, 'unbound');
    const isListened = host.isListened(delivery);
    if (callback === null && !isListened) return this.#dropped(delivery, 'unbound');
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
      return this.#dropped(delivery, 'undecodable');
    }
    if (deliverChannel.hasSubscribers) return this.#traced(delivery, message, callback, isListened);
    const routed = isListened ? host.route(delivery, message) : undefined;
    if (routed !== undefined) return routed.then(() => this.#call(callback, message, delivery));
    return this.#call(callback, message, delivery);
  }

  /**
   * `#run`'s hand-over inside the `teal:amq:deliver` events, published by hand
   * so that a synchronous callback stays synchronous when someone listens.
   */
  #traced(
    delivery: Delivery,
    message: Message,
    callback: MessageCallback | null,
    isListened: boolean,
  ): Promise<void> | undefined {
    const host = this.#host;
    const event: DeliverEvent & { error?: unknown } = {
      ...host.eventBase,
      exchange: delivery.exchange,
      kind: message.kind,
      routingKey: delivery.routingKey,
      bodyBytes: byteLength(delivery.body),
      headers: delivery.headers ?? NO_HEADERS,
      message,
      backlog: this.messages,
    };
    const hand = (): Promise<void> | undefined => {
      const routed = isListened ? host.route(delivery, message) : undefined;
      if (routed !== undefined) return routed.then(() => this.#call(callback, message, delivery));
      return this.#call(callback, message, delivery);
    };
    const { start, end, asyncStart, asyncEnd, error } = deliverChannel;
    let pending: Promise<void> | undefined;
    try {
      pending = start.runStores(event, hand);
    } finally {
      end.publish(event);
    }
    if (pending === undefined) {
      asyncStart.publish(event);
      asyncEnd.publish(event);
      return undefined;
    }
    return pending.then(
      () => {
        asyncStart.publish(event);
        asyncEnd.publish(event);
      },
      (failure: unknown) => {
        event.error = failure;
        error.publish(event);
        asyncStart.publish(event);
        asyncEnd.publish(event);
      },
    );
  }

  #dropped(delivery: Delivery, reason: DropReason): undefined {
    if (dropChannel.hasSubscribers) {
      dropChannel.publish({ ...this.#host.eventBase, exchange: delivery.exchange, reason });
    }
    return undefined;
  }

  /** Runs the callback; returns a promise only when it returned one. */
  #call(
    callback: MessageCallback | null,
    message: Message,
    delivery: Delivery,
  ): Promise<void> | undefined {
    if (callback === null) return undefined;
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

/** A body's size in UTF-8 bytes, as the broker carried it. */
export function byteLength(body: string | Uint8Array): number {
  if (typeof body !== 'string') return body.byteLength;
  let bytes = body.length;
  for (let index = 0; index < body.length; index++) {
    const code = body.charCodeAt(index);
    if (code < 0x80) continue;
    if (code < 0x800) {
      bytes += 1;
    } else {
      // Three bytes, or four for a surrogate pair (two units, each already counted once).
      bytes += 2;
      if (code >= 0xd800 && code <= 0xdbff) index++;
    }
  }
  return bytes;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
