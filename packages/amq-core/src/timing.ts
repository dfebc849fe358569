import { setMaxListeners } from 'node:events';

/** What `onAbort()` and `markWritten()` reach behind a signal core made. */
interface Watched {
  listen(listener: () => void): () => void;
  markWritten(): void;
}

/** The deadline behind each signal core made, for `onAbort()` and `markWritten()`. */
const deadlineOf = new WeakMap<AbortSignal, Watched>();
/** One real listener per foreign signal, however many wait on it. */
const fanOuts = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * One operation's deadline: a signal that fires with a timeout error after
 * `timeoutMs`, or with the reason of the caller's own signal if that fires
 * first. Transports get the signal; callers get `race()`, which settles at the
 * deadline whatever the transport does. The timer rejects the races and tells
 * `onAbort()` listeners itself: a listener on an `AbortSignal` costs Node
 * 7–14 µs to add and remove, more than a whole publish.
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #leaveCaller: (() => void) | undefined;
  #listeners: Array<() => void> = [];
  #isWritten = false;

  /** `reason(isWritten)` makes the error the deadline fires with. */
  constructor(timeoutMs: number, reason: (isWritten: boolean) => Error, caller?: AbortSignal) {
    if (caller?.aborted) {
      this.#controller.abort(caller.reason);
      return;
    }
    deadlineOf.set(this.#controller.signal, this);
    this.#timer = setTimeout(() => this.#fire(reason(this.#isWritten)), timeoutMs);
    if (caller !== undefined) this.#leaveCaller = onAbort(caller, () => this.#fire(caller.reason));
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The transport wrote the body: if the deadline fires now, the broker may have it. */
  markWritten(): void {
    this.#isWritten = true;
  }

  /** Calls `listener` when the deadline fires; returns what removes it. */
  listen(listener: () => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const index = this.#listeners.indexOf(listener);
      if (index >= 0) this.#listeners.splice(index, 1);
    };
  }

  /** `work`'s outcome, or the deadline's reason if it fires first; clears the deadline once settled. */
  race<T>(work: Promise<T>): Promise<T> {
    const raced = raceSignal(work, this.#controller.signal);
    raced.then(
      () => this.clear(),
      () => this.clear(),
    );
    return raced;
  }

  /** Resolves `graceMs` after the deadline fired. */
  expiry(graceMs: number): Promise<void> {
    const signal = this.#controller.signal;
    return new Promise((resolve) => {
      const later = () => setTimeout(resolve, graceMs).unref?.();
      if (signal.aborted) later();
      else this.listen(later);
    });
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#leaveCaller?.();
  }

  #fire(reason: unknown): void {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(reason);
    this.#leaveCaller?.();
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) listener();
  }
}

/** How long one shared send deadline takes in new sends. */
const SHARE_MS = 1;

/**
 * The deadlines of the sends whose caller passed no signal: the sends that
 * start within the same millisecond share one signal and one timer, which
 * fires `timeoutMs` (plus at most that millisecond) after the first of them.
 * A signal and a timer of its own cost a send more than the rest of core's
 * work together (the signal's allocation and its collection above all), and
 * sends of one handler share their timeout anyway. What is shared is
 * coarser: `markWritten()` on the signal marks every unsettled send of that
 * millisecond written, so one that the deadline catches unwritten then
 * rejects as an `AMQUnconfirmedSendError` (it may have been routed) rather
 * than an `AMQSendError` — the cautious answer, never a false "not sent".
 */
export class SendDeadlines {
  readonly #timeoutMs: number;
  #current: SharedDeadline | null = null;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** The deadline a send starting now joins. */
  join(): SharedDeadline {
    const now = performance.now();
    const current = this.#current;
    if (current?.admits(now)) return current;
    const fresh = new SharedDeadline(now, this.#timeoutMs + SHARE_MS);
    this.#current = fresh;
    return fresh;
  }
}

/**
 * One millisecond's sends' deadline; see `SendDeadlines`. Its timer runs
 * only while one of its sends is unsettled: once the last has settled it
 * stops (nothing then keeps the process alive), and a send that joins later
 * in the same millisecond starts it again — sequential sends, each awaited,
 * share the signal too instead of each making one.
 */
export class SharedDeadline implements Watched {
  readonly startedAt: number;
  readonly #firesAt: number;
  readonly #controller = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #hasFired = false;
  readonly #listeners = new Set<() => void>();
  /** Every race of this deadline, each with the error it rejects with; `#pending` counts the unsettled. */
  #races: Race[] = [];
  #pending = 0;
  #isWritten = false;

  constructor(startedAt: number, timeoutMs: number) {
    this.startedAt = startedAt;
    this.#firesAt = startedAt + timeoutMs;
    deadlineOf.set(this.#controller.signal, this);
    // Shared by many sends, each of which a transport may listen for: no leak to warn of.
    setMaxListeners(0, this.#controller.signal);
    this.#timer = setTimeout(() => this.#fire(), timeoutMs);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Whether a send starting at `now` may join: the deadline has not fired
   * and its millisecond has not passed. Starts the timer again if every
   * earlier send had settled, for the same instant rounded up to the next
   * whole millisecond (timers count whole ones): `timeoutMs` or later after
   * `now`.
   */
  admits(now: number): boolean {
    if (this.#hasFired || now - this.startedAt >= SHARE_MS) return false;
    this.#timer ??= setTimeout(() => this.#fire(), Math.ceil(this.#firesAt - now));
    return true;
  }

  markWritten(): void {
    this.#isWritten = true;
  }

  listen(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * `work`'s outcome, or the error `reason(isWritten)` makes if the deadline
   * fires first; `failure` maps what `work` rejects with.
   */
  race<T>(
    work: Promise<T>,
    reason: (isWritten: boolean) => Error,
    failure: (error: unknown) => unknown,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const race: Race = { reject, reason, isSettled: false };
      this.#pending++;
      this.#races.push(race);
      const settle = () => {
        if (race.isSettled) return false;
        race.isSettled = true;
        // The last one out stops the timer, lets the races go and forgets what was written.
        if (--this.#pending === 0) {
          clearTimeout(this.#timer);
          this.#timer = undefined;
          this.#races = [];
          this.#isWritten = false;
        }
        return true;
      };
      work.then(
        (value) => {
          if (settle()) resolve(value);
        },
        (error: unknown) => {
          if (settle()) reject(failure(error));
        },
      );
    });
  }

  #fire(): void {
    this.#timer = undefined;
    this.#hasFired = true;
    const races = this.#races.filter((race) => !race.isSettled);
    this.#races = [];
    this.#pending = 0;
    for (const race of races) race.isSettled = true;
    const reason = races[0]?.reason(this.#isWritten);
    this.#controller.abort(reason ?? new Error('the deadline of sends passed'));
    for (const listener of [...this.#listeners]) listener();
    this.#listeners.clear();
    for (const race of races) race.reject(race.reason(this.#isWritten));
  }
}

interface Race {
  readonly reject: (error: unknown) => void;
  readonly reason: (isWritten: boolean) => Error;
  isSettled: boolean;
}

/**
 * Calls `listener` once `signal` fires, cheaply: on a signal core made (every
 * transport call's), without touching the signal; on any other, with one
 * real listener however many wait on it. Returns what removes `listener`.
 * Does not call it for a signal that already fired: check `signal.aborted`.
 */
export function onAbort(signal: AbortSignal, listener: () => void): () => void {
  const deadline = deadlineOf.get(signal);
  if (deadline !== undefined) return deadline.listen(listener);
  let listeners = fanOuts.get(signal);
  if (listeners === undefined) {
    const waiting = new Set<() => void>();
    listeners = waiting;
    fanOuts.set(signal, waiting);
    signal.addEventListener(
      'abort',
      () => {
        for (const waiter of [...waiting]) waiter();
        waiting.clear();
      },
      { once: true },
    );
  }
  const set = listeners;
  set.add(listener);
  return () => set.delete(listener);
}

/**
 * Tells core the body of the call with this signal was written: a deadline
 * that fires afterwards rejects the send as an `AMQUnconfirmedSendError` (the
 * broker may have it) instead of an `AMQSendError` (it never will).
 */
export function markWritten(signal: AbortSignal): void {
  deadlineOf.get(signal)?.markWritten();
}

/** `work`'s outcome, or a rejection with `signal`'s reason as soon as it fires. */
export function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const leave = onAbort(signal, () => reject(signal.reason));
    work.then(
      (value) => {
        leave();
        resolve(value);
      },
      (error: unknown) => {
        leave();
        reject(error);
      },
    );
  });
}

/**
 * The delay before reconnect attempt `attempt` (0-based): exponential from
 * `baseMs`, capped at `maxMs`, with full jitter so that many handlers that lost
 * one broker do not all come back at the same instant.
 */
export function backoffDelay(attempt: number, baseMs = 100, maxMs = 5_000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}
