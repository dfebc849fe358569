interface Connection {
  readonly status: string;
  on(event: 'ready', listener: () => void): unknown;
}

interface Waiter {
  readonly start: () => void;
  readonly fail: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Holds commands while the connection is down and issues them, in call
 * order, once it is ready again — after ioredis has resent what was in flight,
 * so writes reach Redis in the order they were made. A command that waited
 * longer than its deadline is dropped with an error instead of being sent
 * late: the caller has given up on it.
 */
export class ReadyGate {
  readonly #connection: Connection;
  #waiting: Waiter[] = [];
  #closedError: Error | null = null;

  constructor(connection: Connection) {
    this.#connection = connection;
    // ioredis emits `ready` on the tick after it resent the unanswered commands.
    connection.on('ready', () => this.#release());
  }

  /** Runs `operation` now if the connection is ready and nothing waits, else once it is. */
  run<T>(operation: () => Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    if (this.#connection.status === 'ready' && this.#waiting.length === 0) return operation();
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          operation().then(resolve, reject);
        },
        fail: reject,
        timer: setTimeout(() => {
          this.#waiting = this.#waiting.filter((other) => other !== waiter);
          reject(onTimeout());
        }, timeoutMs),
      };
      this.#waiting.push(waiter);
    });
  }

  /** Rejects what waits and everything run later. */
  close(error: Error): void {
    this.#closedError = error;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const waiter of waiting) {
      clearTimeout(waiter.timer);
      waiter.fail(error);
    }
  }

  #release(): void {
    if (this.#connection.status !== 'ready') return;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const waiter of waiting) {
      clearTimeout(waiter.timer);
      waiter.start();
    }
  }
}
