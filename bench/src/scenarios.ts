import { callbackMessage, powensWebhookMessage } from '@teal/messages';
import {
  callbacks,
  closing,
  deliverAll,
  heapMiB,
  pair,
  pipeline,
  roundTrips,
  settledRoundTrips,
} from './drive';
import type { BenchKind, BenchPeer, PeerFactory } from './peer';
import { bytes as formatBytes, SEQUENTIAL_RATE } from './report';
import { percentile } from './stats';

/** Named figures of one run of a scenario: `msgs/s`, `p50 µs` … */
export type Figures = Record<string, number>;

export interface Sizes {
  throughput: number;
  inFlight: number;
  latency: number;
  bindings: number;
  bindingProbes: number;
  fanOutHandlers: number;
  fanOut: number;
  waits: number;
  payloads: ReadonlyArray<{ label: string; bytes: number; count: number }>;
  /**
   * The Python peer's scenario: untimed round trips that warm both sides up
   * (the JIT, a new queue), then timed sequential round trips, then pipelined sends.
   */
  python: { warmUp: number; sequential: number; pipelined: number };
  curves: CurveSizes;
}

/** The points of the cost curves (`curves.ts`). */
export interface CurveSizes {
  /** Bindings on one handler at which p50 latency and heap are read. */
  bindings: readonly number[];
  /** Handlers in the process, each bound to a key of its own. */
  handlers: readonly number[];
  /** Messages sent per measure of the handlers curve, spread over the handlers' keys. */
  handlerMessages: number;
  /** Payload sizes, in bytes. */
  payloadBytes: readonly number[];
  /** Bytes sent per payload size; the count stays within `payloadCount`. */
  payloadBudget: number;
  payloadCount: readonly [min: number, max: number];
  /** Measures per throughput point; the curve keeps their median. */
  repeats: number;
}

export const FULL: Sizes = {
  throughput: 20_000,
  inFlight: 256,
  latency: 2_000,
  bindings: 10_000,
  bindingProbes: 300,
  fanOutHandlers: 10,
  fanOut: 5_000,
  waits: 10_000,
  payloads: [
    { label: '200 B', bytes: 200, count: 5_000 },
    { label: '64 KiB', bytes: 64 * 1024, count: 400 },
    { label: '1 MiB', bytes: 1024 * 1024, count: 30 },
  ],
  python: { warmUp: 200, sequential: 500, pipelined: 2_000 },
  curves: {
    bindings: [1, 1_000, 10_000, 100_000],
    handlers: [1, 10, 100],
    handlerMessages: 3_000,
    payloadBytes: [200, 4 * 1024, 64 * 1024, 1024 * 1024, 4 * 1024 * 1024],
    payloadBudget: 16 * 1024 * 1024,
    payloadCount: [8, 2_000],
    repeats: 3,
  },
};

export const QUICK: Sizes = {
  throughput: 500,
  inFlight: 64,
  latency: 50,
  bindings: 200,
  bindingProbes: 20,
  fanOutHandlers: 3,
  fanOut: 100,
  waits: 200,
  payloads: [
    { label: '200 B', bytes: 200, count: 50 },
    { label: '64 KiB', bytes: 64 * 1024, count: 10 },
    { label: '1 MiB', bytes: 1024 * 1024, count: 2 },
  ],
  python: { warmUp: 10, sequential: 50, pipelined: 200 },
  curves: {
    bindings: [1, 1_000],
    handlers: [1, 10],
    handlerMessages: 200,
    payloadBytes: [200, 64 * 1024],
    payloadBudget: 640 * 1024,
    payloadCount: [4, 50],
    repeats: 1,
  },
};

export interface Scenario {
  name: string;
  /** Which figures are better when higher (throughputs); the rest are better lower. */
  higherIsBetter: readonly string[];
  /** Measures the handler's own API: no raw-client baseline. */
  adapterOnly?: boolean;
  /** Another peer measured in place of the raw client (the Python original). */
  versus?: Versus;
  run(factory: PeerFactory, prefix: string, sizes: Sizes): Promise<Figures>;
}

/** A peer other than the raw client, measured in interleaved rounds with the adapter. */
export interface Versus {
  /** Its name in the report. */
  readonly label: string;
  /** Why it cannot run on this machine, or `null`. */
  unavailable(): Promise<string | null>;
  run(prefix: string, sizes: Sizes): Promise<Figures>;
}

export const throughput: Scenario = {
  name: 'throughput',
  higherIsBetter: ['msgs/s'],
  async run(factory, prefix, sizes) {
    const [sender, receiver] = await pair(factory, prefix);
    return closing([sender, receiver], async () => {
      await receiver.bind('tp');
      const messages = callbacks(sizes.throughput, 'tp');
      const ms = await deliverAll(sender, [receiver], messages, sizes);
      return { 'msgs/s': (messages.length / ms) * 1000 };
    });
  },
};

export const latency: Scenario = {
  name: 'latency',
  higherIsBetter: [SEQUENTIAL_RATE],
  async run(factory, prefix, sizes) {
    const [sender, receiver] = await pair(factory, prefix);
    return closing([sender, receiver], async () => {
      await receiver.bind('lat');
      const start = performance.now();
      const samples = await roundTrips(sender, receiver, ['lat'], sizes.latency);
      const ms = performance.now() - start;
      return {
        'p50 µs': percentile(samples, 50),
        'p99 µs': percentile(samples, 99),
        // What the Python peer's sequential figure is measured as: round trips over the time they took.
        [SEQUENTIAL_RATE]: (samples.length / ms) * 1000,
      };
    });
  },
};

export const bindings: Scenario = {
  name: 'bindings',
  higherIsBetter: [],
  async run(factory, prefix, sizes) {
    const [sender, receiver] = await pair(factory, prefix);
    const single = await factory(`${prefix}single.`);
    const singleSender = await factory(`${prefix}single.`);
    return closing([sender, receiver, single, singleSender], async () => {
      const keys = Array.from({ length: sizes.bindings }, (_, i) => `bind-${i}`);
      const heapBefore = heapMiB();
      const start = performance.now();
      await Promise.all(keys.map((key) => receiver.bind(key)));
      const bindMs = performance.now() - start;
      const heap = heapMiB() - heapBefore;
      const probeKeys = Array.from(
        { length: sizes.bindingProbes },
        () => keys[Math.floor(Math.random() * keys.length)]!,
      );
      const many = await settledRoundTrips(sender, receiver, probeKeys, sizes.bindingProbes);
      await single.bind('only');
      const one = await settledRoundTrips(singleSender, single, ['only'], sizes.bindingProbes);
      return {
        'bind ms': bindMs,
        'heap MiB': heap,
        'p50 µs (many)': percentile(many, 50),
        'p50 µs (one)': percentile(one, 50),
        'many ÷ one': percentile(many, 50) / percentile(one, 50),
      };
    });
  },
};

export const fanOut: Scenario = {
  name: 'fan-out',
  higherIsBetter: ['callbacks/s'],
  async run(factory, prefix, sizes) {
    const receivers = await Promise.all(
      Array.from({ length: sizes.fanOutHandlers }, () => factory(prefix)),
    );
    const sender = await factory(prefix);
    return closing([sender, ...receivers], async () => {
      await Promise.all(receivers.map((receiver) => receiver.bind('fan')));
      const messages = callbacks(sizes.fanOut, 'fan');
      const deliveries = messages.length * receivers.length;
      const ms = await deliverAll(sender, receivers, messages, {
        inFlight: sizes.inFlight,
        deliveries,
      });
      return { 'callbacks/s': (deliveries / ms) * 1000 };
    });
  },
};

export const payloads: Scenario = {
  name: 'payload',
  higherIsBetter: FULL.payloads.map(({ label }) => `MB/s ${label}`),
  async run(factory, prefix, sizes) {
    const [sender, receiver] = await pair(factory, prefix);
    const figures: Figures = {};
    return closing([sender, receiver], async () => {
      for (const { label, bytes, count } of sizes.payloads) {
        const seconds = await sendPayloads(sender, receiver, bytes, count);
        // A raw client without chunking cannot send what exceeds the broker's message limit.
        figures[`MB/s ${label}`] = (count * bytes) / 1e6 / seconds;
      }
      return figures;
    });
  },
};

/**
 * Sends `count` Powens webhooks of about `bytes` each, 16 in flight, to a
 * domain `receiver` binds; resolves to the seconds until the last arrived,
 * or to NaN, said on the console, when the peer cannot send them.
 */
export async function sendPayloads(
  sender: BenchPeer,
  receiver: BenchPeer,
  bytes: number,
  count: number,
): Promise<number> {
  const domain = `b${bytes}.biapi.pro`;
  await receiver.bind(domain, 'powens_webhook' satisfies BenchKind);
  const payload = JSON.stringify({ data: 'x'.repeat(Math.max(0, bytes - 11)) });
  const messages = Array.from({ length: count }, () =>
    powensWebhookMessage({ domain, event: 'CONNECTION_SYNCED', userToken: 'u', payload }),
  );
  try {
    return (await deliverAll(sender, [receiver], messages, { inFlight: 16 })) / 1000;
  } catch (error) {
    console.log(
      `  (${formatBytes(bytes)} payloads not sent: ${error instanceof Error ? error.message : String(error)})`,
    );
    return Number.NaN;
  }
}

/** `waits` concurrent `waitFor()` on distinct keys, then as many sends resolving them. */
export const waits: Scenario = {
  name: 'waitFor',
  higherIsBetter: [],
  adapterOnly: true,
  async run(factory, prefix, sizes) {
    const [sender, receiver] = await pair(factory, prefix);
    const handler = receiver.handler;
    if (handler === undefined) throw new Error('waitFor needs a TeaL handler');
    return closing([sender, receiver], async () => {
      const keys = Array.from({ length: sizes.waits }, (_, i) => `wait-${i}`);
      const heapBefore = heapMiB();
      let bound = 0;
      let allBound = () => {};
      const everyBound = new Promise<void>((resolve) => {
        allBound = resolve;
      });
      const onBound = () => {
        if (++bound === keys.length) allBound();
      };
      const start = performance.now();
      const waiting = keys.map((key) => handler.waitFor('callback', key, { onBound }));
      await everyBound;
      const boundMs = performance.now() - start;
      const heap = heapMiB() - heapBefore;
      const messages = keys.map((key) =>
        callbackMessage({ url: `https://app.test/callback?state=${key}`, state: key }),
      );
      await pipeline(sender, messages, sizes.inFlight);
      await Promise.all(waiting);
      return {
        'all bound ms': boundMs,
        'all resolved ms': performance.now() - start,
        'heap MiB (waiting)': heap,
      };
    });
  },
};

export const SCENARIOS: readonly Scenario[] = [
  throughput,
  latency,
  bindings,
  fanOut,
  payloads,
  waits,
];
