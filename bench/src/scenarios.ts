import { callbackMessage, type Message, powensWebhookMessage } from '@teal/messages';
import type { BenchKind, BenchPeer, PeerFactory } from './peer';
import { percentile, sortedCopy } from './stats';

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
};

export interface Scenario {
  name: string;
  /** Which figures are better when higher (throughputs); the rest are better lower. */
  higherIsBetter: readonly string[];
  /** Measures the handler's own API: no raw-client baseline. */
  adapterOnly?: boolean;
  run(factory: PeerFactory, prefix: string, sizes: Sizes): Promise<Figures>;
}

function callbacks(count: number, key: string): Message[] {
  return Array.from({ length: count }, (_, i) =>
    callbackMessage({ url: `https://app.test/callback?state=${key}&code=c${i}`, state: key }),
  );
}

/** Sends every message with at most `inFlight` unconfirmed, in order of issue. */
async function pipeline(
  peer: BenchPeer,
  messages: readonly Message[],
  inFlight: number,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < messages.length) await peer.send(messages[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, messages.length) }, lane));
}

function countTo(peers: readonly BenchPeer[], total: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve) => {
    for (const peer of peers) {
      peer.onMessage = () => {
        if (++seen === total) resolve();
      };
    }
  });
}

/** Sequential awaited send → callback round trips, in microseconds. */
async function roundTrips(
  sender: BenchPeer,
  receiver: BenchPeer,
  keys: readonly string[],
  count: number,
) {
  const samples: number[] = [];
  let arrived: (() => void) | null = null;
  receiver.onMessage = () => arrived?.();
  for (let i = 0; i < count; i++) {
    const key = keys[i % keys.length]!;
    const message = callbackMessage({ url: `https://app.test/callback?state=${key}`, state: key });
    const delivered = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const start = performance.now();
    await sender.send(message);
    await delivered;
    samples.push((performance.now() - start) * 1000);
  }
  return sortedCopy(samples);
}

async function pair(factory: PeerFactory, prefix: string): Promise<[BenchPeer, BenchPeer]> {
  return [await factory(prefix), await factory(prefix)];
}

export const throughput: Scenario = {
  name: 'throughput',
  higherIsBetter: ['msgs/s'],
  async run(factory, prefix, sizes) {
    const [sender, receiver] = await pair(factory, prefix);
    try {
      await receiver.bind('tp');
      const messages = callbacks(sizes.throughput, 'tp');
      const all = countTo([receiver], messages.length);
      const start = performance.now();
      await pipeline(sender, messages, sizes.inFlight);
      await all;
      return { 'msgs/s': (messages.length / (performance.now() - start)) * 1000 };
    } finally {
      await Promise.all([sender.close(), receiver.close()]);
    }
  },
};

export const latency: Scenario = {
  name: 'latency',
  higherIsBetter: [],
  async run(factory, prefix, sizes) {
    const [sender, receiver] = await pair(factory, prefix);
    try {
      await receiver.bind('lat');
      const samples = await roundTrips(sender, receiver, ['lat'], sizes.latency);
      return { 'p50 µs': percentile(samples, 50), 'p99 µs': percentile(samples, 99) };
    } finally {
      await Promise.all([sender.close(), receiver.close()]);
    }
  },
};

export const bindings: Scenario = {
  name: 'bindings',
  higherIsBetter: [],
  async run(factory, prefix, sizes) {
    const [sender, receiver] = await pair(factory, prefix);
    const single = await factory(`${prefix}single.`);
    const singleSender = await factory(`${prefix}single.`);
    try {
      const keys = Array.from({ length: sizes.bindings }, (_, i) => `bind-${i}`);
      collectGarbage();
      const heapBefore = process.memoryUsage().heapUsed;
      const start = performance.now();
      await Promise.all(keys.map((key) => receiver.bind(key)));
      const bindMs = performance.now() - start;
      collectGarbage();
      const heapMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
      const probeKeys = Array.from(
        { length: sizes.bindingProbes },
        () => keys[Math.floor(Math.random() * keys.length)]!,
      );
      const many = await roundTrips(sender, receiver, probeKeys, sizes.bindingProbes);
      await single.bind('only');
      const one = await roundTrips(singleSender, single, ['only'], sizes.bindingProbes);
      return {
        'bind ms': bindMs,
        'heap MiB': heapMiB,
        'p50 µs (many)': percentile(many, 50),
        'p50 µs (one)': percentile(one, 50),
        'many ÷ one': percentile(many, 50) / percentile(one, 50),
      };
    } finally {
      await Promise.all([sender, receiver, single, singleSender].map((peer) => peer.close()));
    }
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
    try {
      await Promise.all(receivers.map((receiver) => receiver.bind('fan')));
      const messages = callbacks(sizes.fanOut, 'fan');
      const total = messages.length * receivers.length;
      const all = countTo(receivers, total);
      const start = performance.now();
      await pipeline(sender, messages, sizes.inFlight);
      await all;
      return { 'callbacks/s': (total / (performance.now() - start)) * 1000 };
    } finally {
      await Promise.all([sender, ...receivers].map((peer) => peer.close()));
    }
  },
};

export const payloads: Scenario = {
  name: 'payload',
  higherIsBetter: FULL.payloads.map(({ label }) => `MB/s ${label}`),
  async run(factory, prefix, sizes) {
    const [sender, receiver] = await pair(factory, prefix);
    const figures: Figures = {};
    try {
      for (const { label, bytes, count } of sizes.payloads) {
        const domain = `b${bytes}.biapi.pro`;
        await receiver.bind(domain, 'powens_webhook' satisfies BenchKind);
        const payload = JSON.stringify({ data: 'x'.repeat(Math.max(0, bytes - 11)) });
        const messages = Array.from({ length: count }, () =>
          powensWebhookMessage({ domain, event: 'CONNECTION_SYNCED', userToken: 'u', payload }),
        );
        const all = countTo([receiver], count);
        const start = performance.now();
        try {
          await pipeline(sender, messages, 16);
        } catch (error) {
          // A raw client without chunking cannot send what exceeds the broker's message limit.
          console.log(
            `  (${label} not sent: ${error instanceof Error ? error.message : String(error)})`,
          );
          figures[`MB/s ${label}`] = Number.NaN;
          continue;
        }
        await all;
        figures[`MB/s ${label}`] =
          (count * payload.length) / 1e6 / ((performance.now() - start) / 1000);
      }
      return figures;
    } finally {
      await Promise.all([sender.close(), receiver.close()]);
    }
  },
};

/** `waits` concurrent `waitFor()` on distinct keys, then as many sends resolving them. */
export const waits: Scenario = {
  name: 'waitFor',
  higherIsBetter: [],
  adapterOnly: true,
  async run(factory, prefix, sizes) {
    const [sender, receiver] = await pair(factory, prefix);
    const handler = receiver.handler;
    if (handler === undefined) throw new Error('waitFor needs a TeaL handler');
    try {
      const keys = Array.from({ length: sizes.waits }, (_, i) => `wait-${i}`);
      collectGarbage();
      const heapBefore = process.memoryUsage().heapUsed;
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
      collectGarbage();
      const heapMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
      const messages = keys.map((key) =>
        callbackMessage({ url: `https://app.test/callback?state=${key}`, state: key }),
      );
      await pipeline(sender, messages, sizes.inFlight);
      await Promise.all(waiting);
      return {
        'all bound ms': boundMs,
        'all resolved ms': performance.now() - start,
        'heap MiB (waiting)': heapMiB,
      };
    } finally {
      await Promise.all([sender.close(), receiver.close()]);
    }
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

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
