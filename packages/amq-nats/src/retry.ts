import { JetStreamApiError } from '@nats-io/jetstream';
import { AMQError, backoffDelay } from '@teal/amq-core/adapter';
import type { NatsLink } from './link';

/** How long one request may wait for its reply before it is tried again. */
const ATTEMPT_TIMEOUT_MS = 5_000;

/**
 * Runs `attempt` until it succeeds: waits for the connection, retries what a
 * reconnect or a restarting server can fix (timeouts, no responders, 503s),
 * with jittered backoff, and gives up at `deadline` (epoch ms) with the last
 * error. `attempt` receives how long its request may wait.
 */
export async function retryUntil<T>(
  link: NatsLink,
  deadline: number,
  attempt: (timeoutMs: number) => Promise<T>,
  beforeRetry?: (error: unknown) => Promise<void>,
): Promise<T> {
  for (let tries = 0; ; tries++) {
    await link.waitConnected(deadline);
    const remaining = deadline - Date.now();
    try {
      return await attempt(Math.max(1, Math.min(remaining, ATTEMPT_TIMEOUT_MS)));
    } catch (error) {
      if (!isRetriable(error) || Date.now() + 10 >= deadline) throw error;
      await beforeRetry?.(error).catch(() => {});
      await sleep(Math.min(backoffDelay(tries, 50, 1_000), Math.max(0, deadline - Date.now())));
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

/** `error` as an AMQError that says what failed, keeping the client's error as the cause. */
export function asAMQError(error: unknown, what: string): AMQError {
  if (error instanceof AMQError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new AMQError(`[@teal/amq-nats] ${what}: ${reason}`, { cause: error });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
