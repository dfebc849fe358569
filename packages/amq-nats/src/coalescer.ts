/**
 * Shares one run of an async task among concurrent callers, where each caller
 * needs a run that STARTED after its call: a caller arriving while a run is in
 * flight shares the next run, which starts when that one settles. So a flush
 * (or a "where does the stream end" query) in flight covers everything before
 * it, and bursts cost two round trips, not one per caller.
 */
export class Coalescer<T> {
  readonly #task: () => Promise<T>;
  #running: Promise<T> | null = null;
  #queued: Promise<T> | null = null;

  constructor(task: () => Promise<T>) {
    this.#task = task;
  }

  run(): Promise<T> {
    if (this.#queued !== null) return this.#queued;
    if (this.#running === null) return this.#start();
    const queued = this.#running.then(ignore, ignore).then(() => {
      this.#queued = null;
      return this.#start();
    });
    this.#queued = queued;
    return queued;
  }

  #start(): Promise<T> {
    let running: Promise<T>;
    try {
      running = this.#task();
    } catch (error) {
      running = Promise.reject(error);
    }
    this.#running = running;
    const clear = () => {
      if (this.#running === running) this.#running = null;
    };
    running.then(clear, clear);
    return running;
  }
}

function ignore(): void {}
