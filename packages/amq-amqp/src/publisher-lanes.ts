import type { AMQExchangeName } from '@teal/amq-core/adapter';
import type { AmqpConnection } from './connection';
import type { Signalled } from './deadlines';

/** One `publish()`, from the call until it settles. */
export interface Outgoing extends Signalled {
  /** Call order: retried messages keep their place among those of their key. */
  readonly seq: number;
  readonly exchange: AMQExchangeName;
  readonly routingKey: string;
  /** Held only while it may still be written: released once written, rejected or abandoned. */
  body: Buffer | null;
  /** Broker metadata beside the body (trace context), kept while it may be written again. */
  headers: Readonly<Record<string, string>> | undefined;
  /** The caller's deadline: past it, nothing is written. */
  readonly signal: AbortSignal;
  /** When the signal will fire, as far as the transport knows (`sendTimeoutMs` after the call). */
  readonly deadlineAt: number;
  state: 'waiting' | 'held' | 'written' | 'settled';
  /** The connection it was written on. */
  connection: AmqpConnection | null;
  /** Set on a `mandatory` write, to know the message again when RabbitMQ returns it. */
  messageId: string | undefined;
  /** RabbitMQ returned it (no queue took it) on its last write. */
  wasReturned: boolean;
  /** Listening for its signal: only while it waits, for a written one the watch does. */
  isListening: boolean;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  /** Its deadline fired while it waits: it leaves at once. Made the first time it waits. */
  onAbort: (() => void) | null;
}

/** The key an outgoing message is ordered by. */
export function laneOf(outgoing: Outgoing): string {
  return `${outgoing.exchange}\u0000${outgoing.routingKey}`;
}

/**
 * Messages RabbitMQ returned as unroutable during the grace after a
 * reconnection, waiting to be published again, and the later messages of
 * the same keys, held behind them so that one sender's messages on a key
 * keep their order. One lane per key, in call order.
 */
export class Lanes {
  readonly #lanes = new Map<string, Outgoing[]>();
  #timer: NodeJS.Timeout | null = null;
  readonly #retryDelayMs: number;
  readonly #onDue: () => void;

  constructor(retryDelayMs: number, onDue: () => void) {
    this.#retryDelayMs = retryDelayMs;
    this.#onDue = onDue;
  }

  get size(): number {
    return this.#lanes.size;
  }

  /** Whether messages of this key are held: a new one must queue behind them. */
  has(lane: string): boolean {
    return this.#lanes.has(lane);
  }

  /** Holds a message in its key's lane, in call order, until the lanes are due. */
  hold(outgoing: Outgoing): void {
    outgoing.state = 'held';
    const lane = laneOf(outgoing);
    const held = this.#lanes.get(lane);
    if (held === undefined) {
      this.#lanes.set(lane, [outgoing]);
    } else {
      let at = held.length;
      while (at > 0 && held[at - 1]!.seq > outgoing.seq) at--;
      held.splice(at, 0, outgoing);
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      this.#onDue();
    }, this.#retryDelayMs);
  }

  /** Lets go of a held message (its deadline fired). */
  remove(outgoing: Outgoing): void {
    const lane = laneOf(outgoing);
    const held = this.#lanes.get(lane);
    if (held === undefined) return;
    const at = held.indexOf(outgoing);
    if (at >= 0) held.splice(at, 1);
    if (held.length === 0) this.#lanes.delete(lane);
  }

  /** Takes every held message, lane after lane, each lane in call order. */
  takeAll(): Outgoing[] {
    const all = [...this.#lanes.values()].flat();
    this.#lanes.clear();
    return all;
  }

  /** Tries again later: the connection cannot take writes now. */
  later(): void {
    if (this.#lanes.size === 0) return;
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      this.#onDue();
    }, this.#retryDelayMs);
  }

  clear(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
