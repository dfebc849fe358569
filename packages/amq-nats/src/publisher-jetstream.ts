import {
  type AMQExchangeName,
  AMQUnconfirmedSendError,
  backoffDelay,
} from '@teal/amq-core/adapter';
import type { NatsLink } from './connection';
import { type Alarm, isRetriable, sleep } from './connection-retry';
import type { SendWatch, Watched } from './publisher';

interface Entry {
  readonly ticket: number;
  readonly exchange: AMQExchangeName;
  readonly attempt: () => Promise<unknown>;
  readonly signal: AbortSignal;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  watched: Watched | undefined;
  /** An attempt was written: the stream may have stored the message. */
  isWritten: boolean;
  /** The connection epoch of the attempt in flight, if one is. */
  inFlightOn: number | undefined;
  isSettled: boolean;
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
 * Nothing is written once a publish's signal fired. A publish written and not
 * acknowledged when its deadline nears rejects with an
 * `AMQUnconfirmedSendError` (the stream may have stored it), and one on the
 * wire then, or when its signal fires, resets the connection so that nothing
 * queued behind can land later; it is never sent again.
 */
export class OrderedPublisher {
  readonly #link: NatsLink;
  readonly #watch: SendWatch;
  readonly #beforeRetry: (error: unknown) => Promise<void>;
  /** Publishes written outside the lane and not settled yet, by ticket. */
  readonly #inFlight = new Set<number>();
  /** Publishes waiting for the lane, by ticket. */
  #lane: Entry[] = [];
  #isDraining = false;
  #wakeDrainer: (() => void) | null = null;
  #nextTicket = 0;
  /**
   * Rung when the stream elects a new leader: a publish the old one never
   * answered is tried again then rather than at its timeout, and so is one
   * waiting to retry (its message id keeps it stored once).
   */
  readonly #newLeader: Alarm;

  constructor(
    link: NatsLink,
    watch: SendWatch,
    beforeRetry: (error: unknown) => Promise<void>,
    newLeader: Alarm,
  ) {
    this.#link = link;
    this.#newLeader = newLeader;
    this.#watch = watch;
    this.#beforeRetry = beforeRetry;
  }

  /** Resolves once `attempt` (which publishes one message, every part) succeeded once. */
  publish(
    exchange: AMQExchangeName,
    attempt: () => Promise<unknown>,
    signal: AbortSignal,
  ): Promise<void> {
    const lateAt = this.#watch.lateAtFromNow();
    return new Promise<void>((resolve, reject) => {
      const entry: Entry = {
        ticket: this.#nextTicket++,
        exchange,
        attempt,
        signal,
        resolve,
        reject,
        watched: undefined,
        isWritten: false,
        inFlightOn: undefined,
        isSettled: false,
      };
      entry.watched = this.#watch.add(signal, lateAt, (reason) => this.#expire(entry, reason));
      void this.#start(entry);
    });
  }

  get #isLaneOpen(): boolean {
    return this.#lane.length > 0 || this.#isDraining;
  }

  async #start(entry: Entry): Promise<void> {
    if (!this.#isLaneOpen) {
      // Connected, as nearly always: no wait, not even a turn of the event loop.
      if (!this.#link.isConnected || entry.signal.aborted) {
        try {
          await this.#link.waitConnected(entry.signal);
        } catch (error) {
          this.#settle(entry, error);
          return;
        }
      }
      // A publish that failed while this one waited for the connection comes first.
      if (entry.isSettled) return;
      if (!this.#isLaneOpen) {
        this.#inFlight.add(entry.ticket);
        try {
          await this.#attempt(entry);
          this.#settle(entry);
          return;
        } catch (error) {
          if (entry.isSettled) return;
          if (!isRetriable(error)) {
            this.#settle(entry, error);
            return;
          }
        } finally {
          this.#inFlight.delete(entry.ticket);
          this.#wakeDrainer?.();
        }
      }
    }
    this.#enqueue(entry);
  }

  /**
   * One try: settles with the attempt, or fails as soon as the connection
   * drops or the stream elects a new leader. One promise and two listeners,
   * not a race of three promises: this runs for every publish.
   */
  #attempt(entry: Entry): Promise<void> {
    const epoch = this.#link.disconnects;
    return new Promise<void>((resolve, reject) => {
      let isDone = false;
      let stopWatchingDrop = () => {};
      let stopWatchingLeader = () => {};
      const finish = (error?: unknown) => {
        if (isDone) return;
        isDone = true;
        entry.inFlightOn = undefined;
        stopWatchingDrop();
        stopWatchingLeader();
        if (error === undefined) resolve();
        else reject(error);
      };
      // A reply can no longer come once the connection dropped: retry at once, not at the timeout.
      stopWatchingDrop = this.#link.onDrop(epoch, () =>
        finish(new Error('the connection dropped before the server answered')),
      );
      // Nor from a stream leader that died: its successor takes the retry.
      stopWatchingLeader = this.#newLeader.listen(() =>
        finish(new Error('the stream elected a new leader before answering')),
      );
      if (isDone) return;
      entry.isWritten = true;
      entry.inFlightOn = epoch;
      try {
        entry.attempt().then(
          () => finish(),
          (error: unknown) => finish(error ?? new Error('the publish failed')),
        );
      } catch (error) {
        finish(error);
      }
    });
  }

  /** The signal fired (`reason`), or the deadline is near (`undefined`). */
  #expire(entry: Entry, reason: unknown): void {
    if (entry.isSettled) return;
    // Never written: nothing to recall, and core's deadline says it was not sent.
    if (reason === undefined && !entry.isWritten) return;
    if (entry.inFlightOn !== undefined) {
      this.#link.abandon(entry.inFlightOn, 'the server did not store a publish in time');
    }
    const index = this.#lane.indexOf(entry);
    if (index >= 0) {
      this.#lane.splice(index, 1);
      this.#wakeDrainer?.();
    }
    this.#settle(
      entry,
      reason ??
        new AMQUnconfirmedSendError(
          `[@teal/amq-nats] the stream did not acknowledge the message on ${entry.exchange} in time, though it was written: it may have been stored, and then is delivered once`,
        ),
    );
  }

  #settle(entry: Entry, error?: unknown): void {
    if (entry.isSettled) return;
    entry.isSettled = true;
    if (entry.watched !== undefined) this.#watch.remove(entry.watched);
    if (error === undefined) entry.resolve();
    else entry.reject(error);
  }

  #enqueue(entry: Entry): void {
    let at = this.#lane.length;
    while (at > 0 && this.#lane[at - 1]!.ticket > entry.ticket) at--;
    this.#lane.splice(at, 0, entry);
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
        await this.#retry(head);
      }
    } finally {
      this.#isDraining = false;
    }
  }

  /** Tries `entry` until it is stored, fails for good, or is expired. */
  async #retry(entry: Entry): Promise<void> {
    for (let tries = 0; !entry.isSettled; tries++) {
      try {
        await this.#link.waitConnected(entry.signal);
        if (entry.isSettled) return;
        await this.#attempt(entry);
        this.#settle(entry);
        return;
      } catch (error) {
        if (entry.isSettled) return;
        if (entry.signal.aborted || !isRetriable(error)) {
          this.#settle(entry, entry.signal.aborted ? entry.signal.reason : error);
          return;
        }
        // A new stream leader ends the wait, the repair's included: between leaders the repair's
        // stream info goes unanswered until its 3 s timeout, and an election ending meanwhile
        // would otherwise go unheard, leaving the publish to wait out that timeout.
        const newLeader = this.#newLeader.next('a new stream leader');
        try {
          await Promise.race([this.#beforeRetry(error), newLeader.rung]).catch(() => {});
          await Promise.race([
            sleep(backoffDelay(tries, 50, 1_000), entry.signal),
            newLeader.rung,
          ]).catch(() => {});
        } finally {
          newLeader.stop();
        }
      }
    }
  }
}
