import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { connect, silentLogger } from '@teal/amq-core';
import { transportOf } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import fc from 'fast-check';
import { readConfig } from '../../src/config';
import { amqLoggerOf, createLogger } from '../../src/logging';
import { buildServer } from '../../src/server';
import { rawRequest } from '../helpers/raw-http';
import { listen } from '../helpers/server';
import { basic, TestSocket } from '../helpers/websocket';
import {
  type FuzzFrame,
  fuzzFrame,
  fuzzRequest,
  renderRequest,
  SECRET_PATTERN,
} from './arbitraries';

export interface FuzzOptions {
  /** fast-check's seed: the same seed replays the same requests and frames. */
  readonly seed: number;
  readonly requests: number;
  /** WebSocket sessions, each sending up to `framesPerSocket` random frames. */
  readonly sockets: number;
  readonly framesPerSocket: number;
  /** Requests between two `/healthz` probes (and two log checks). */
  readonly batchSize: number;
  readonly maxResponseMs: number;
  readonly maxHealthMs: number;
  /** How far the heap may stay above its baseline after a quiet period. */
  readonly maxHeapGrowthBytes: number;
  /** Where progress lines go. */
  readonly report: (line: string) => void;
}

export interface FuzzReport {
  readonly requests: number;
  readonly frames: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly p50ResponseMs: number;
  readonly p99ResponseMs: number;
  readonly maxResponseMs: number;
  readonly maxHealthMs: number;
  readonly logLines: number;
  readonly heapBaselineBytes: number;
  readonly heapAfterBytes: number;
  readonly durationMs: number;
}

/** The seed CI runs with. */
export const DEFAULT_SEED = 20_261_130;

export const SHORT: Omit<FuzzOptions, 'seed' | 'report'> = {
  requests: 2_000,
  sockets: 40,
  framesPerSocket: 20,
  batchSize: 250,
  maxResponseMs: 200,
  maxHealthMs: 50,
  maxHeapGrowthBytes: 24 * 1_048_576,
};

export const LONG: Omit<FuzzOptions, 'seed' | 'report'> = {
  ...SHORT,
  requests: 20_000,
  sockets: 400,
};

const PASSWORD = 'fuzz-dispatcher-password';
const BODY_LIMIT = 1_048_576;
// The codes a server may close a fuzzed socket with: oversized (1009) or broken (1002, 1007) frames.
const CLIENT_FAULT_CLOSES = new Set([1002, 1006, 1007, 1009]);

/** Reads every log line as it is written: secrets and error-level lines fail the run. */
class LogScanner {
  lines = 0;
  readonly leaks: string[] = [];
  readonly errors: string[] = [];
  readonly stream = new Writable({
    write: (chunk, _encoding, done) => {
      for (const line of String(chunk).split('\n')) {
        if (line === '') continue;
        this.lines++;
        const secrets = line.match(SECRET_PATTERN);
        if (secrets !== null) this.leaks.push(`${secrets[0]} in ${line.slice(0, 500)}`);
        if (/"level":(50|60)/.test(line)) this.errors.push(line.slice(0, 500));
      }
      done();
    },
  });

  check(): void {
    if (this.leaks.length > 0) throw new Error(`a secret reached the log: ${this.leaks[0]}`);
    if (this.errors.length > 0) throw new Error(`a server fault was logged: ${this.errors[0]}`);
  }
}

function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs the listener and dispatcher on an in-process broker and sends them
 * random and malformed requests and WebSocket frames; throws at the first
 * 5xx, missing or slow answer, slow `/healthz`, secret or server fault in
 * the log, binding left behind, or heap that does not come back down.
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now();
  const url = `memory://fuzz-${options.seed}-${process.pid}`;
  const config = readConfig({
    AMQP_URL: url,
    DISPATCHER_PASSWORD: PASSWORD,
    LOG_LEVEL: 'debug',
    // Every request comes from one address: per-address limits would answer most of them 429.
    RATE_LIMIT_PER_MINUTE: '0',
    MAX_CONNECTIONS_PER_IP: '0',
    REQUEST_TIMEOUT_MS: '5000',
  });
  const scanner = new LogScanner();
  const logger = createLogger(config.logLevel, scanner.stream);
  const handler = await connect({ url, logger: amqLoggerOf(logger) });
  const peer = await connect({ url, logger: silentLogger });
  const app = await buildServer({ config, handler, logger, heartbeatMs: 60_000 });
  const baseUrl = await listen(app);
  const gc = collectGarbage();
  const timings: number[] = [];
  const statuses: Record<string, number> = {};
  let maxHealthMs = 0;
  let frames = 0;
  let heapBaselineBytes = 0;

  const probeHealth = async () => {
    const probeStarted = performance.now();
    const response = await fetch(`${baseUrl}/healthz`);
    await response.text();
    const elapsed = performance.now() - probeStarted;
    maxHealthMs = Math.max(maxHealthMs, elapsed);
    if (response.status !== 200) throw new Error(`/healthz answered ${response.status}`);
    if (elapsed > options.maxHealthMs) {
      throw new Error(`/healthz took ${elapsed.toFixed(1)} ms, over ${options.maxHealthMs} ms`);
    }
  };

  const sendOne = fc.asyncProperty(fuzzRequest, async (request) => {
    const response =
      request.kind === 'garbage'
        ? await rawRequest(baseUrl, request.bytes, 10_000, { endAfterWrite: true })
        : await rawRequest(baseUrl, renderRequest(request), 10_000);
    timings.push(response.elapsedMs);
    statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
    if (response.statusCode >= 500) {
      throw new Error(`answered ${response.statusCode}: ${response.text.slice(0, 300)}`);
    }
    // A body over the limit is refused while it is still being written: the reset may come first.
    const mayGoUnanswered =
      request.kind === 'garbage' || Buffer.byteLength(request.body) > BODY_LIMIT;
    if (response.statusCode === 0 && !mayGoUnanswered) throw new Error('no answer');
    if (response.elapsedMs > options.maxResponseMs) {
      throw new Error(
        `answered in ${response.elapsedMs.toFixed(1)} ms, over ${options.maxResponseMs} ms`,
      );
    }
  });

  try {
    const batches = Math.ceil(options.requests / options.batchSize);
    for (let batch = 0; batch < batches; batch++) {
      const numRuns = Math.min(options.batchSize, options.requests - batch * options.batchSize);
      await fc.assert(sendOne, { seed: options.seed + batch, numRuns, endOnFailure: true });
      scanner.check();
      await probeHealth();
      if (batch === 0) {
        // After the first batch, so that everything loaded once is in the baseline.
        await sleep(200);
        gc();
        heapBaselineBytes = process.memoryUsage().heapUsed;
      }
      options.report(
        `fuzz: ${Math.min(options.requests, (batch + 1) * options.batchSize)} requests`,
      );
    }

    const session = fc.asyncProperty(
      fc.array(fuzzFrame, { minLength: 1, maxLength: options.framesPerSocket }),
      async (sent) => {
        frames += sent.length;
        await fuzzSocket(baseUrl, peer, sent, options.maxResponseMs);
      },
    );
    await fc.assert(session, {
      seed: options.seed + batches,
      numRuns: options.sockets,
      endOnFailure: true,
    });
    scanner.check();
    await probeHealth();
    options.report(`fuzz: ${options.sockets} WebSocket sessions, ${frames} frames`);

    // Every socket is gone: nothing of theirs may remain bound on the broker.
    await sleep(500);
    const left = [...(transportOf(handler).resources?.() ?? [])];
    if (left.length > 0) throw new Error(`bindings left behind: ${left.slice(0, 5).join(', ')}`);

    await sleep(1_000);
    gc();
    gc();
    const heapAfterBytes = process.memoryUsage().heapUsed;
    if (heapAfterBytes - heapBaselineBytes > options.maxHeapGrowthBytes) {
      throw new Error(
        `the heap stayed ${((heapAfterBytes - heapBaselineBytes) / 1_048_576).toFixed(1)} MiB above its baseline`,
      );
    }
    const sorted = [...timings].sort((a, b) => a - b);
    return {
      requests: timings.length,
      frames,
      statuses,
      p50ResponseMs: percentile(sorted, 0.5),
      p99ResponseMs: percentile(sorted, 0.99),
      maxResponseMs: sorted.at(-1) ?? 0,
      maxHealthMs,
      logLines: scanner.lines,
      heapBaselineBytes,
      heapAfterBytes,
      durationMs: performance.now() - started,
    };
  } finally {
    // A failure may leave a connection open: closing must not wait for it.
    app.server.closeAllConnections();
    await app.close();
    await handler.close();
    await peer.close();
  }
}

/**
 * One WebSocket session: the frames, then a registration and a message that
 * must still get through, unless the server closed the socket for a frame
 * that broke the protocol (and then with the code that says so).
 */
async function fuzzSocket(
  baseUrl: string,
  peer: { send(message: ReturnType<typeof callbackMessage>): Promise<void> },
  sent: readonly FuzzFrame[],
  maxResponseMs: number,
): Promise<void> {
  const socket = await TestSocket.open(baseUrl, { headers: basic('anonymous', PASSWORD) });
  try {
    for (const frame of sent) {
      if (socket.closeCode !== null) break;
      if (frame.binary) socket.socket.send(Buffer.from(frame.data, 'latin1'), { binary: true });
      else socket.socket.send(frame.data);
    }
    const probeStarted = performance.now();
    const state = `probe-${Math.random().toString(36).slice(2)}`;
    const answer = await Promise.race([
      socket
        .request({ register_to: { type: 'callback', state } }, ['registered'])
        .then(() => 'registered'),
      new Promise<string>((resolve) => socket.socket.once('close', () => resolve('closed'))),
    ]);
    if (answer === 'closed' || socket.closeCode !== null) {
      const isOversized = sent.some((frame) => frame.data.length > 65_536);
      if (!isOversized || !CLIENT_FAULT_CLOSES.has(socket.closeCode ?? 0)) {
        throw new Error(`the server closed the socket with ${socket.closeCode}`);
      }
      return;
    }
    const elapsed = performance.now() - probeStarted;
    if (elapsed > maxResponseMs) {
      throw new Error(`registered after ${elapsed.toFixed(1)} ms`);
    }
    const from = socket.frames.length;
    await peer.send(callbackMessage({ url: 'http://127.0.0.1/callback', state }));
    await socket.next(
      (frame) => frame.type === 'callback' && frame.state === state,
      'the probe message',
      from,
    );
    for (const frame of socket.frames) {
      if (typeof frame.type !== 'string')
        throw new Error(`a frame without a type: ${JSON.stringify(frame)}`);
    }
  } finally {
    await socket.close();
  }
}
