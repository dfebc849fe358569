/**
 * The load test's results file, `bench/results-load.json`: what
 * `pnpm --filter @teal/demo loadtest` writes and `pnpm bench` turns into
 * BENCHMARKS.md's "Service load" section. Types only, with no import, so that
 * the bench reads the same definitions.
 */

export type BrokerName = 'memory' | 'amqp' | 'redis' | 'nats' | 'postgres';

/** What one autocannon run against one route measured. */
export interface DriveFigures {
  /** Answered requests per second, over the run. */
  readonly requestsPerSecond: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** Requests answered 2xx or 3xx: each one must reach its socket. */
  readonly succeeded: number;
  /** Requests answered with any other status. */
  readonly failed: number;
  /** Connection errors and timeouts, as autocannon counts them. */
  readonly errors: number;
  readonly timeouts: number;
}

/** The figures of one broker's run. */
export interface LoadRow {
  readonly broker: BrokerName;
  readonly sockets: number;
  readonly domains: number;
  readonly connections: number;
  readonly durationSeconds: number;
  /** The 1-minute load average when the run started and ended. */
  readonly loadAverage: readonly [number, number];
  /** The dispatcher's resident memory (VmRSS) before and after the sockets opened, in bytes. */
  readonly dispatcherRssBefore: number;
  readonly dispatcherRssAfter: number;
  readonly bytesPerSocket: number;
  readonly secondsToOpenSockets: number;
  readonly callback: DriveFigures;
  readonly webhook: DriveFigures;
  /** Frames the sockets received: each success must reach its socket, once. */
  readonly callbacksDelivered: number;
  readonly webhooksDelivered: number;
  /** Successful requests whose frame never reached its socket. */
  readonly missing: number;
  /** Frames beyond the requests made for their key: duplicates. */
  readonly extra: number;
  /** Frames a socket got for a key it did not register to. */
  readonly misdelivered: number;
  /** Sockets the dispatcher closed during the run. */
  readonly socketsClosed: number;
}

/** The whole file. */
export interface LoadResults {
  readonly date: string;
  readonly machine?: { readonly cpus: number; readonly node: string };
  readonly rows: readonly LoadRow[];
}
