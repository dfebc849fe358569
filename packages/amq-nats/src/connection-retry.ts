import { JetStreamApiError } from '@nats-io/jetstream';
import { AMQError, backoffDelay, raceSignal } from '@teal/amq-core/adapter';
import type { NatsLink } from './connection';

/**
 * How long one publish may wait for its acknowledgement before it is tried
 * again (with its message id: stored once): a stream whose leader died
 * answers nothing until its replicas elect another.
 */
export const ATTEMPT_TIMEOUT_MS = 2_000;

/**
 * Runs `attempt` until it succeeds: waits for the connection, retries what a
 * reconnect or a restarting server can fix (timeouts, no responders, 503s),
 * with jittered backoff. Once `signal` fired it starts no attempt and rejects
 * with the signal's reason at once, leaving an attempt in flight to settle
 * unobserved.
 */
export async function retryUntil<T>(
  link: NatsLink,
  signal: AbortSignal,
  attempt: () => Promise<T>,
  beforeRetry?: (error: unknown) => Promise<void>,
): Promise<T> {
  for (let tries = 0; ; tries++) {
    await link.waitConnected(signal);
    signal.throwIfAborted();
    try {
      return await raceSignal(attempt(), signal);
    } catch (error) {
      if (signal.aborted || !isRetriable(error)) throw error;
      await raceSignal(beforeRetry?.(error).catch(() => {}) ?? Promise.resolve(), signal);
      await sleep(backoffDelay(tries, 50, 1_000), signal);
    }
  }
}

/** Whether an error may go away by itself: a lost connection, a server (re)starting. */
export function isRetriable(error: unknown): boolean {
  if (error instanceof AMQError) return false;
  if (error instanceof JetStreamApiError) return error.status === 503 || isStreamNotFound(error);
  return true;
}

/** Whether JetStream says the stream does not exist (deleted, or a server that lost its store). */
export function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === 10059;
}

/** Waits `ms`; rejects with `signal`'s reason as soon as it fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal === undefined) return new Promise((resolve) => setTimeout(resolve, ms));
  return raceSignal(new Promise<void>((resolve) => setTimeout(resolve, ms).unref()), signal);
}

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

/**
 * An event many waiters race against, each woken once by the next `ring()`:
 * listeners in a set rather than one long-lived promise that every waiter
 * would add a reaction to (thousands of publishes a second).
 */
export class Alarm {
  readonly #wakers = new Set<() => void>();

  ring(): void {
    const wakers = [...this.#wakers];
    this.#wakers.clear();
    for (const wake of wakers) wake();
  }

  /** Calls `listener` at the next `ring()`; returns what stops the watch. */
  listen(listener: () => void): () => void {
    this.#wakers.add(listener);
    return () => this.#wakers.delete(listener);
  }

  /**
   * `rung` rejects with `reason` at the next `ring()`, and `hasRung()` says
   * whether it did; call `stop()` once done waiting.
   */
  next(reason: string): { rung: Promise<never>; hasRung: () => boolean; stop: () => void } {
    let hasRung = false;
    let wake = () => {};
    const rung = new Promise<never>((_, reject) => {
      wake = () => {
        hasRung = true;
        reject(new Error(reason));
      };
    });
    rung.catch(() => {});
    this.#wakers.add(wake);
    return { rung, hasRung: () => hasRung, stop: () => this.#wakers.delete(wake) };
  }
}
