/**
 * One operation's deadline: a signal that fires with a timeout error after
 * `timeoutMs`, or with the reason of the caller's own signal if that fires
 * first. Transports get the signal; callers get `race()`, which settles at the
 * deadline whatever the transport does.
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #caller: AbortSignal | undefined;
  readonly #onCallerAbort: (() => void) | undefined;

  constructor(timeoutMs: number, reason: () => Error, caller?: AbortSignal) {
    if (caller?.aborted) {
      this.#controller.abort(caller.reason);
      return;
    }
    this.#timer = setTimeout(() => this.#controller.abort(reason()), timeoutMs);
    if (caller !== undefined) {
      this.#caller = caller;
      this.#onCallerAbort = () => this.#controller.abort(caller.reason);
      caller.addEventListener('abort', this.#onCallerAbort, { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
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
      else signal.addEventListener('abort', later, { once: true });
    });
  }

  clear(): void {
    clearTimeout(this.#timer);
    if (this.#onCallerAbort !== undefined) {
      this.#caller?.removeEventListener('abort', this.#onCallerAbort);
    }
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
