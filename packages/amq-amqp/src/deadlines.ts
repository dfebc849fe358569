import { onAbort } from '@teal/amq-core/adapter';

/** How often the watch looks at what it holds. */
const CHECK_EVERY_MS = 50;
/** What settles sooner than this never pays for a listener on its signal. */
const LISTEN_AFTER_MS = 100;

/** Something waiting on a signal. */
export interface Signalled {
  readonly signal: AbortSignal;
}

/** Something waiting on a signal that says itself what to do once it fired. */
interface Watched extends Signalled {
  aborted(): void;
}

/**
 * Tells each watched item once its signal fired. Most calls settle within
 * milliseconds, long before their deadline, so an item gets a listener only
 * once it has waited 100 ms (checked every 50 ms, oldest first, stopping at
 * the first younger one); past its deadline, a call thus settles at once if
 * it was slow, and within 150 ms if its signal fired early. One `aborted`
 * function serves every young item: it costs no closure. The listener goes
 * through core's `onAbort()`, which on a signal core made (every deadline a
 * transport is handed) is an entry in the deadline's own list, not an 'abort'
 * listener: those cost about 10 µs in Node to add and remove, and 10,000
 * binds in flight (each waits seconds for RabbitMQ) paid it 10,000 times.
 */
export class SignalWatch<T extends Signalled> {
  /** Items without a listener yet, with when they came: oldest first. */
  readonly #young = new Map<T, number>();
  /** Items past their youth, each with what removes its listener. */
  readonly #listening = new Map<T, () => void>();
  readonly #aborted: (item: T) => void;
  #timer: NodeJS.Timeout | null = null;

  constructor(aborted: (item: T) => void) {
    this.#aborted = aborted;
  }

  add(item: T): void {
    this.#young.set(item, Date.now());
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#check(), CHECK_EVERY_MS);
      this.#timer.unref();
    }
  }

  delete(item: T): void {
    if (this.#young.delete(item)) return;
    const leave = this.#listening.get(item);
    if (leave === undefined) return;
    this.#listening.delete(item);
    leave();
  }

  #check(): void {
    const limit = Date.now() - LISTEN_AFTER_MS;
    for (const [item, since] of this.#young) {
      if (since > limit) break;
      this.#young.delete(item);
      if (item.signal.aborted) {
        this.#aborted(item);
        continue;
      }
      const leave = onAbort(item.signal, () => {
        this.#listening.delete(item);
        this.#aborted(item);
      });
      this.#listening.set(item, leave);
    }
    if (this.#young.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}

const shared = new SignalWatch<Watched>((item) => item.aborted());

/** `work`'s outcome, or `onAbort` once `signal` fired, whichever comes first. */
export function untilAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: T,
): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.resolve(onAbort);
  return new Promise<T>((resolve, reject) => {
    const watched: Watched = { signal, aborted: () => resolve(onAbort) };
    shared.add(watched);
    work.then(
      (value) => {
        shared.delete(watched);
        resolve(value);
      },
      (error: unknown) => {
        shared.delete(watched);
        reject(error);
      },
    );
  });
}

/** Resolves after `ms`, or soon after `signal` fires (the timer goes with it). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    const watched: Watched | null = signal === undefined ? null : { signal, aborted: done };
    if (watched !== null) shared.add(watched);
    function done() {
      clearTimeout(timer);
      if (watched !== null) shared.delete(watched);
      resolve();
    }
  });
}
