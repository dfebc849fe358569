/**
 * Quick local figures for the NATS adapter, both modes, against a running
 * nats-server (NATS_URL, default nats://127.0.0.1:4222):
 *
 *   npx tsx --conditions=@teal/source bench/local.ts   (from packages/amq-nats)
 *
 * - sequential awaited send(): median and p99 of 1,000 sends;
 * - pipelined throughput: 20,000 sends, at most 256 in flight, until every callback ran;
 * - binding 10,000 keys at once, and send→callback latency with 1 and with 10,000 bindings.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect as connectNats } from '@nats-io/transport-node';
import type { AMQHandler } from '@teal/amq-core';
import { callbackMessage } from '@teal/messages';
import { connect, type NatsMode } from '../src/index';
import { defaultStreamName } from '../src/settings';
import { encodeToken } from '../src/subjects';

const url = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const prefixes: string[] = [];

async function pair(mode: NatsMode): Promise<[AMQHandler, AMQHandler]> {
  const exchangePrefix = `bench-${mode}-${Math.random().toString(36).slice(2, 8)}`;
  prefixes.push(exchangePrefix);
  const options = {
    url,
    mode,
    exchangePrefix,
    sendTimeoutMs: 60_000,
    streamMaxBytes: 256 * 1024 * 1024,
  };
  return [await connect(options), await connect(options)];
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

const ms = (value: number) => `${value.toFixed(3)} ms`;

async function sequentialSends(mode: NatsMode): Promise<string> {
  const [receiver, sender] = await pair(mode);
  receiver.callback = () => {};
  await receiver.bindCallbackState('seq');
  const samples: number[] = [];
  for (let i = 0; i < 1_100; i++) {
    const started = performance.now();
    await sender.send(callbackMessage({ url: `https://x.test/${i}`, state: 'seq' }));
    if (i >= 100) samples.push(performance.now() - started);
  }
  await Promise.all([receiver.close(), sender.close()]);
  return `sequential send(): median ${ms(percentile(samples, 50))}, p99 ${ms(percentile(samples, 99))}`;
}

async function pipelined(mode: NatsMode, total = 20_000, inFlight = 256): Promise<string> {
  const [receiver, sender] = await pair(mode);
  let received = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  receiver.callback = () => {
    if (++received === total) done();
  };
  await receiver.bindCallbackState('pipe');
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      await sender.send(callbackMessage({ url: `https://x.test/${i}`, state: 'pipe' }));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const sent = performance.now() - started;
  await all;
  const elapsed = performance.now() - started;
  await Promise.all([receiver.close(), sender.close()]);
  return `pipelined: ${total} sends in ${ms(sent)} (all acknowledged), every callback after ${ms(elapsed)}: ${Math.round((total / elapsed) * 1000)} msg/s`;
}

async function roundTrips(
  receiver: AMQHandler,
  sender: AMQHandler,
  state: string,
): Promise<number> {
  const samples: number[] = [];
  let arrived: () => void = () => {};
  receiver.callback = () => arrived();
  for (let i = 0; i < 550; i++) {
    const landed = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const started = performance.now();
    await sender.send(callbackMessage({ url: `https://x.test/${i}`, state }));
    await landed;
    if (i >= 50) samples.push(performance.now() - started);
  }
  return percentile(samples, 50);
}

async function manyBindings(mode: NatsMode, count = 10_000): Promise<string> {
  const [receiver, sender] = await pair(mode);
  await receiver.bindCallbackState('probe');
  const one = await roundTrips(receiver, sender, 'probe');
  const started = performance.now();
  await Promise.all(
    Array.from({ length: count }, (_, i) => receiver.bindCallbackState(`key-${i}`)),
  );
  const bound = performance.now() - started;
  const many = await roundTrips(receiver, sender, `key-${count - 1}`);
  await Promise.all([receiver.close(), sender.close()]);
  return `bind ${count} keys: ${ms(bound)}; send→callback median with 1 binding ${ms(one)}, with ${count + 1} ${ms(many)} (${(many / one).toFixed(2)}×)`;
}

async function deleteStreams(): Promise<void> {
  const nc = await connectNats({ servers: new URL(url).host });
  const jsm = await jetstreamManager(nc);
  for (const prefix of prefixes)
    await jsm.streams.delete(defaultStreamName(encodeToken(prefix))).catch(() => {});
  await nc.close();
}

try {
  for (const mode of ['core', 'jetstream'] as const) {
    console.log(`[${mode}] ${await sequentialSends(mode)}`);
    console.log(`[${mode}] ${await pipelined(mode)}`);
    console.log(`[${mode}] ${await manyBindings(mode)}`);
  }
} finally {
  await deleteStreams();
}
