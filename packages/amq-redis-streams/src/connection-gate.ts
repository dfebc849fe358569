interface Connection {
  readonly status: string;
}

interface Waiter {
  readonly start: () => void;
  readonly fail: (error: unknown) => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

/**
 * Holds commands while the connection is not usable — down, or up but its
 * server clock not yet measured — and issues them in call order once it is
 * open again: after ioredis has resent what was in flight, so writes reach
 * Redis in the order they were made. A command whose signal fires while it
 * waits is dropped, never sent: its caller has given up on it.
 */
export class ReadyGate {
  readonly #connection: Connection;
  #isOpen = false;
  /** In call order; a Set, so that a waiter whose signal fires leaves in O(1). */
  #waiting = new Set<Waiter>();
  #closedError: Error | null = null;

  constructor(connection: Connection) {
    this.#connection = connection;
  }

  /** Whether a command issued now goes out at once. */
  get isUsable(): boolean {
    return this.#isOpen && this.#closedError === null && this.#connection.status === 'ready';
  }

  /** Runs `operation` now if the gate is open and nothing waits, else once it opens, unless `signal` fires first. */
  run<T>(operation: () => Promise<T>, signal: AbortSignal): Promise<T> {
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.isUsable && this.#waiting.size === 0) return operation();
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          signal.removeEventListener('abort', waiter.onAbort);
          operation().then(resolve, reject);
        },
        fail: (error) => {
          signal.removeEventListener('abort', waiter.onAbort);
          reject(error);
        },
        signal,
        onAbort: () => {
          this.#waiting.delete(waiter);
          reject(signal.reason);
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiting.add(waiter);
    });
  }

  /** The connection is ready and its clock measured: issues what waits. */
  open(): void {
    this.#isOpen = true;
    if (!this.isUsable) return;
    const waiting = this.#waiting;
    this.#waiting = new Set();
    for (const waiter of waiting) waiter.start();
  }

  /** The connection dropped: what comes next waits for `open()`. */
  shut(): void {
    this.#isOpen = false;
  }

  /** Rejects what waits and everything run later. */
  close(error: Error): void {
    this.#closedError = error;
    this.#isOpen = false;
    const waiting = this.#waiting;
    this.#waiting = new Set();
    for (const waiter of waiting) waiter.fail(error);
  }
}
