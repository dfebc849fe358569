/** The deadline behind each signal core made, for `onAbort()` and `markWritten()`. */
const deadlineOf = new WeakMap<AbortSignal, Deadline>();
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
