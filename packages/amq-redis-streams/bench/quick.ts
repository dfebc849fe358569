/**
 * Quick local figures for the README: sequential send latency, pipelined
 * throughput, and binding 10,000 keys. Not a test; run it against a local Redis:
 *
 *   node --conditions=@teal/source --import tsx bench/quick.ts
 */
import { performance } from 'node:perf_hooks';
import type { AMQHandler } from '@teal/amq-core';
import { callbackMessage } from '@teal/messages';
import { connect } from '../src/index';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = () => `bench-${Math.random().toString(36).slice(2, 10)}.`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function pair(): Promise<[AMQHandler, AMQHandler]> {
  const exchangePrefix = prefix();
  return [await connect({ url, exchangePrefix }), await connect({ url, exchangePrefix })];
}

/** Median of awaited send() alone, and of send → callback, one message at a time. */
async function sequential(receiver: AMQHandler, sender: AMQHandler, state: string, count: number) {
  let delivered: () => void = () => {};
  receiver.callback = () => delivered();
  const sendTimes: number[] = [];
  const roundTrips: number[] = [];
  for (let i = 0; i < count; i++) {
    const arrived = new Promise<void>((resolve) => {
      delivered = resolve;
    });
    const start = performance.now();
    await sender.send(callbackMessage({ url: `https://x.test/cb?${i}`, state }));
    sendTimes.push(performance.now() - start);
    await arrived;
    roundTrips.push(performance.now() - start);
  }
  return {
    send: median(sendTimes),
    roundTrip: median(roundTrips),
    roundTripP99: percentile(roundTrips, 99),
  };
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const report = (line: string) => {
    lines.push(line);
    console.log(line);
  };

  {
    const [receiver, sender] = await pair();
    await receiver.bindCallbackState('latency');
    await sequential(receiver, sender, 'latency', 200); // warm-up
    const figures = await sequential(receiver, sender, 'latency', 2_000);
    report(`sequential awaited send(), 1 binding: median ${figures.send.toFixed(3)} ms`);
    report(
      `send → callback, 1 binding: median ${figures.roundTrip.toFixed(3)} ms, p99 ${figures.roundTripP99.toFixed(3)} ms`,
    );

    const bindStart = performance.now();
    await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => receiver.bindCallbackState(`bound-${i}`)),
    );
    report(`bind 10,000 keys on one handler: ${(performance.now() - bindStart).toFixed(0)} ms`);
    await sequential(receiver, sender, 'latency', 200);
    const crowded = await sequential(receiver, sender, 'latency', 2_000);
    report(
      `send → callback, 10,001 bindings: median ${crowded.roundTrip.toFixed(3)} ms, p99 ${crowded.roundTripP99.toFixed(3)} ms`,
    );
    await receiver.close();
    await sender.close();
  }

  {
    const [receiver, sender] = await pair();
    const keys = Array.from({ length: 100 }, (_, i) => `throughput-${i}`);
    await Promise.all(keys.map((key) => receiver.bindCallbackState(key)));
    const total = 20_000;
    let received = 0;
    let allReceived: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      allReceived = resolve;
    });
    receiver.callback = () => {
      if (++received === total) allReceived();
    };
    const start = performance.now();
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < total; i++) {
      const send = sender.send(
        callbackMessage({ url: `https://x.test/cb?${i}`, state: keys[i % keys.length]! }),
      );
      const tracked = send.then(() => {
        inFlight.delete(tracked);
      });
      inFlight.add(tracked);
      if (inFlight.size >= 256) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const sent = performance.now() - start;
    await done;
    const elapsed = performance.now() - start;
    report(
      `pipelined, 20,000 sends ≤ 256 in flight over 100 keys: all sent in ${sent.toFixed(0)} ms, ` +
        `all delivered in ${elapsed.toFixed(0)} ms (${Math.round((total / elapsed) * 1000)} msg/s send → callback)`,
    );
    await receiver.close();
    await sender.close();
  }
}

await main();
