import { backoffDelay, raceSignal } from '@teal/amq-core/adapter';
import type { NatsLink } from './connection';
import { isRetriable, sleep } from './connection-retry';

interface Entry {
  readonly ticket: number;
  readonly attempt: () => Promise<unknown>;
  readonly signal: AbortSignal;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Publishes JetStream messages in the order of the calls, and keeps that
 * order through retries. Each message carries its message id, so a retry of a
 * message the stream already stored is not stored again; but a retry written
 * after a later message was stored would land after it. So publishes are
 * pipelined only while none failed: once one has to be retried, it and every
 * later publish go through one lane, in call order, one stored before the
 * next is written, until the lane is empty — the lane first waits for the
 * earlier publishes still in flight, which may join it.
 *
 * Nothing is written once a publish's signal fired; a publish on the wire
 * when it fires may still be stored (its bytes may already be at the server):
 * `abandon` then resets the connection so that nothing queued behind can land
 * later, and the message is never sent again.
 */
export class OrderedPublisher {
  readonly #link: NatsLink;
  readonly #beforeRetry: (error: unknown) => Promise<void>;
  /** Publishes written outside the lane and not settled yet, by ticket. */
  readonly #inFlight = new Set<number>();
  /** Publishes waiting for the lane, by ticket. */
  #lane: Entry[] = [];
  #isDraining = false;
  #wakeDrainer: (() => void) | null = null;
  #nextTicket = 0;

  constructor(link: NatsLink, beforeRetry: (error: unknown) => Promise<void>) {
    this.#link = link;
    this.#beforeRetry = beforeRetry;
  }

  /** Resolves once `attempt` (which publishes one message, every part) succeeded once. */
  async publish(attempt: () => Promise<unknown>, signal: AbortSignal): Promise<void> {
    const ticket = this.#nextTicket++;
    if (!this.#isLaneOpen) {
      await this.#link.waitConnected(signal);
      // A publish that failed while this one waited for the connection comes first.
      if (!this.#isLaneOpen) {
        signal.throwIfAborted();
        this.#inFlight.add(ticket);
        try {
          await this.#attempt(attempt, signal);
          return;
        } catch (error) {
          if (signal.aborted || !isRetriable(error)) throw error;
        } finally {
          this.#inFlight.delete(ticket);
          this.#wakeDrainer?.();
        }
      }
    }
    return new Promise<void>((resolve, reject) => {
      this.#enqueue({ ticket, attempt, signal, resolve, reject });
    });
  }

  get #isLaneOpen(): boolean {
    return this.#lane.length > 0 || this.#isDraining;
  }

  /** One try: settles with the attempt, or fails as soon as the connection drops or the signal fires. */
  async #attempt(attempt: () => Promise<unknown>, signal: AbortSignal): Promise<void> {
    const epoch = this.#link.disconnects;
    const tried = attempt();
    let stopWatching = () => {};
    // A reply can no longer come once the connection dropped: retry at once, not at the timeout.
    const dropped = new Promise<never>((_, reject) => {
      stopWatching = this.#link.onDrop(epoch, () =>
        reject(new Error('the connection dropped before the server answered')),
      );
    });
    try {
      await raceSignal(Promise.race([tried, dropped]), signal);
    } catch (error) {
      tried.catch(() => {});
      if (signal.aborted) {
        this.#link.abandon(epoch, 'the server did not store a publish before its deadline');
      }
      throw error;
    } finally {
      stopWatching();
      dropped.catch(() => {});
    }
  }

  #enqueue(entry: Entry): void {
    let at = this.#lane.length;
    while (at > 0 && this.#lane[at - 1]!.ticket > entry.ticket) at--;
    this.#lane.splice(at, 0, entry);
    entry.signal.addEventListener(
      'abort',
      () => {
        const index = this.#lane.indexOf(entry);
        if (index < 0) return;
        this.#lane.splice(index, 1);
        entry.reject(entry.signal.reason);
        this.#wakeDrainer?.();
      },
      { once: true },
    );
    void this.#drain();
  }

  async #drain(): Promise<void> {
    if (this.#isDraining) return;
    this.#isDraining = true;
    try {
      while (this.#lane.length > 0) {
        const head = this.#lane[0]!;
        if ([...this.#inFlight].some((ticket) => ticket < head.ticket)) {
          await new Promise<void>((resolve) => {
            this.#wakeDrainer = resolve;
          });
          this.#wakeDrainer = null;
          continue;
        }
        this.#lane.shift();
        await this.#settle(head);
      }
    } finally {
      this.#isDraining = false;
    }
  }

  /** Tries `entry` until it is stored, fails for good, or its signal fires. */
  async #settle(entry: Entry): Promise<void> {
    for (let tries = 0; ; tries++) {
      try {
        await this.#link.waitConnected(entry.signal);
        entry.signal.throwIfAborted();
        await this.#attempt(entry.attempt, entry.signal);
        entry.resolve();
        return;
      } catch (error) {
        if (entry.signal.aborted || !isRetriable(error)) {
          entry.reject(error);
          return;
        }
        await this.#beforeRetry(error).catch(() => {});
        await sleep(backoffDelay(tries, 50, 1_000), entry.signal).catch(() => {});
      }
    }
  }
}
