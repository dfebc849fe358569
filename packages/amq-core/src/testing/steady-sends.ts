import { AMQUnconfirmedSendError } from '@teal/amq-core/adapter';
import { callbackMessage, type Message } from '@teal/messages';
import type { AMQHandler } from '../types';
import { sleep, waitFor } from './helpers';

/** What a fault under steady sends did, send by send. */
export interface FailoverFigures {
  /** Sends called. */
  sent: number;
  /** Sends that resolved: the broker accepted them. */
  confirmed: number;
  /** Sends that rejected. */
  rejected: number;
  /** Of the rejected, those rejected as `AMQUnconfirmedSendError`: written, their confirm lost. */
  unconfirmed: number;
  /** Distinct messages the receiver's callback got. */
  delivered: number;
  /** Confirmed sends never delivered. */
  lost: number;
  /** Messages the callback got more than once. */
  duplicated: number;
  /** Sends rejected with an error that did not say they might be routed, and delivered all the same. */
  deliveredDespiteRejection: number;
  /** Seconds from the fault to the first delivery of a message sent after it; `null` if none came. */
  resumedAfterSeconds: number | null;
}

/**
 * One handler sends to another, one awaited send after the other with a short
 * pause (a few hundred a second), while a test breaks something; then tells
 * what became of each send. The messages are callback messages of one key,
 * numbered in their URL.
 */
export class SteadySends {
  readonly #sender: AMQHandler;
  readonly #state: string;
  readonly #pauseMs: number;
  readonly #outcomes: Array<'confirmed' | 'unconfirmed' | 'rejected' | undefined> = [];
  readonly #deliveries = new Map<number, number>();
  #isSending = false;
  #sending: Promise<void> = Promise.resolve();
  #faultAt = 0;
  /** The first send called after the fault. */
  #firstAfterFault = Number.POSITIVE_INFINITY;
  #resumedAt = 0;

  /** Takes over the receiver's callback; the receiver must be bound to `state` on the callbacks exchange. */
  constructor(sender: AMQHandler, receiver: AMQHandler, state: string, pauseMs = 3) {
    this.#sender = sender;
    this.#state = state;
    this.#pauseMs = pauseMs;
    receiver.callback = (message) => this.#delivered(message);
  }

  /** Sends called so far. */
  get sent(): number {
    return this.#outcomes.length;
  }

  /** Distinct messages delivered so far. */
  get delivered(): number {
    return this.#deliveries.size;
  }

  start(): void {
    this.#isSending = true;
    this.#sending = (async () => {
      for (let n = 0; this.#isSending; n++) {
        this.#outcomes[n] = undefined;
        try {
          await this.#sender.send(
            callbackMessage({ url: `https://x.test/cb?n=${n}`, state: this.#state }),
          );
          this.#outcomes[n] = 'confirmed';
        } catch (error) {
          this.#outcomes[n] = error instanceof AMQUnconfirmedSendError ? 'unconfirmed' : 'rejected';
        }
        await sleep(this.#pauseMs);
      }
    })();
  }

  /** The fault happens now: `resumedAfterSeconds` counts from here. */
  markFault(): void {
    this.#faultAt = Date.now();
    this.#firstAfterFault = this.#outcomes.length;
  }

  /**
   * Stops sending, waits up to `settleMs` for every confirmed send to be
   * delivered (and a little more for duplicates), and counts.
   */
  async stop(settleMs = 10_000): Promise<FailoverFigures> {
    this.#isSending = false;
    await this.#sending;
    const confirmed = this.#numbersOf('confirmed');
    await waitFor(
      () => confirmed.every((n) => this.#deliveries.has(n)),
      'every confirmed send',
      settleMs,
    ).catch(() => {});
    await sleep(500);
    const rejected = this.#outcomes.length - confirmed.length;
    return {
      sent: this.#outcomes.length,
      confirmed: confirmed.length,
      rejected,
      unconfirmed: this.#numbersOf('unconfirmed').length,
      delivered: this.#deliveries.size,
      lost: confirmed.filter((n) => !this.#deliveries.has(n)).length,
      duplicated: [...this.#deliveries.values()].filter((count) => count > 1).length,
      deliveredDespiteRejection: this.#numbersOf('rejected').filter((n) => this.#deliveries.has(n))
        .length,
      resumedAfterSeconds:
        this.#resumedAt === 0 ? null : Math.round(this.#resumedAt - this.#faultAt) / 1_000,
    };
  }

  #numbersOf(outcome: 'confirmed' | 'unconfirmed' | 'rejected'): number[] {
    return this.#outcomes.flatMap((each, n) => (each === outcome ? [n] : []));
  }

  #delivered(message: Message): void {
    if (message.kind !== 'callback') return;
    const n = Number(new URL(message.url).searchParams.get('n'));
    this.#deliveries.set(n, (this.#deliveries.get(n) ?? 0) + 1);
    if (this.#resumedAt === 0 && n >= this.#firstAfterFault) this.#resumedAt = Date.now();
  }
}
