import autocannon from 'autocannon';
import type { DriveFigures } from './results';

export interface DriveOptions {
  readonly url: string;
  readonly connections: number;
  readonly durationSeconds: number;
  /** The request for the n-th call (any connection): its path and the key its message goes to. */
  readonly request: (n: number) => {
    readonly path: string;
    readonly key: string;
    readonly method?: 'GET' | 'POST';
    readonly headers?: Record<string, string>;
    readonly body?: string;
  };
  /** Counts, per key, the requests answered with success. */
  readonly succeededPerKey: Map<string, number>;
  /** Counts, per key, the requests made (answered or not: the run may stop before the answer). */
  readonly attemptedPerKey: Map<string, number>;
}

/**
 * Drives one route with autocannon for a while, varying the key per request,
 * and counts per key what the listener accepted (2xx/3xx: the broker took it).
 */
export async function drive(options: DriveOptions): Promise<DriveFigures> {
  let calls = 0;
  let succeeded = 0;
  let failed = 0;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    timeout: 10,
    requests: [
      {
        setupRequest: (request, context) => {
          const next = options.request(calls++);
          (context as { key?: string }).key = next.key;
          options.attemptedPerKey.set(next.key, (options.attemptedPerKey.get(next.key) ?? 0) + 1);
          return {
            ...request,
            path: next.path,
            method: next.method ?? 'GET',
            ...(next.headers === undefined ? {} : { headers: next.headers }),
            ...(next.body === undefined ? {} : { body: next.body }),
          };
        },
        // One request at a time per connection (no pipelining): the context holds its key.
        onResponse: (status, _body, context) => {
          if (status < 200 || status >= 400) {
            failed += 1;
            return;
          }
          succeeded += 1;
          const key = (context as { key: string }).key;
          options.succeededPerKey.set(key, (options.succeededPerKey.get(key) ?? 0) + 1);
        },
      },
    ],
  });
  const answered = succeeded + failed;
  return {
    requestsPerSecond: answered / result.duration,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    succeeded,
    failed,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}
