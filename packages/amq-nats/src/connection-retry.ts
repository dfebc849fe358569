import { JetStreamApiError } from '@nats-io/jetstream';
import { AMQError, backoffDelay } from '@teal/amq-core/adapter';
import type { NatsLink } from './connection';

/** How long one request may wait for its reply before it is tried again. */
export const ATTEMPT_TIMEOUT_MS = 5_000;

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

/** `error` as an AMQError that says what failed, keeping the client's error as the cause. */
export function asAMQError(error: unknown, what: string): AMQError {
  if (error instanceof AMQError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new AMQError(`[@teal/amq-nats] ${what}: ${reason}`, { cause: error });
}

/** Waits `ms`; rejects with `signal`'s reason as soon as it fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal === undefined) return new Promise((resolve) => setTimeout(resolve, ms));
  return raceSignal(new Promise<void>((resolve) => setTimeout(resolve, ms).unref()), signal);
}
