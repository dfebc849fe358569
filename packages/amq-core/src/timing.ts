/**
 * One operation's deadline: a signal that fires with a timeout error after
 * `timeoutMs`, or with the reason of the caller's own signal if that fires
 * first. Transports get the signal; callers get `race()`, which settles at the
 * deadline whatever the transport does. The timer rejects the races itself:
 * a listener on an `AbortSignal` costs Node more than a whole publish.
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #caller: AbortSignal | undefined;
  readonly #onCallerAbort: (() => void) | undefined;
  #racers: Array<(reason: unknown) => void> = [];

  constructor(timeoutMs: number, reason: () => Error, caller?: AbortSignal) {
    if (caller?.aborted) {
      this.#controller.abort(caller.reason);
      return;
    }
    this.#timer = setTimeout(() => this.#fire(reason()), timeoutMs);
    if (caller !== undefined) {
      this.#caller = caller;
      this.#onCallerAbort = () => this.#fire(caller.reason);
      caller.addEventListener('abort', this.#onCallerAbort, { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** `work`'s outcome, or the deadline's reason if it fires first; clears the deadline once settled. */
  race<T>(work: Promise<T>): Promise<T> {
    const signal = this.#controller.signal;
    if (signal.aborted) {
      work.catch(() => {});
      return Promise.reject(signal.reason);
    }
    return new Promise<T>((resolve, reject) => {
      this.#racers.push(reject);
      work.then(
        (value) => {
          this.clear();
          resolve(value);
        },
        (error: unknown) => {
          this.clear();
          reject(error);
        },
      );
    });
  }

  /** Resolves `graceMs` after the deadline fired. */
  expiry(graceMs: number): Promise<void> {
    const signal = this.#controller.signal;
    return new Promise((resolve) => {
      const later = () => setTimeout(resolve, graceMs).unref?.();
      if (signal.aborted) later();
      else signal.addEventListener('abort', later, { once: true });
    });
  }

  clear(): void {
    clearTimeout(this.#timer);
    this.#racers = [];
    if (this.#onCallerAbort !== undefined) {
      this.#caller?.removeEventListener('abort', this.#onCallerAbort);
    }
  }

  #fire(reason: unknown): void {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(reason);
    const racers = this.#racers;
    this.#racers = [];
    for (const reject of racers) reject(reason);
  }
}

/** `work`'s outcome, or a rejection with `signal`'s reason as soon as it fires. */
export function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
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
