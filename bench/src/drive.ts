import { callbackMessage, type Message } from '@teal/messages';
import type { BenchPeer, PeerFactory } from './peer';
import { sortedCopy } from './stats';

/** `count` OAuth2 callbacks, each on one of `keys` in turn. */
export function callbacks(count: number, keys: string | readonly string[]): Message[] {
  const states = typeof keys === 'string' ? [keys] : keys;
  return Array.from({ length: count }, (_, i) => {
    const state = states[i % states.length]!;
    return callbackMessage({ url: `https://app.test/callback?state=${state}&code=c${i}`, state });
  });
}

/** Sends every message with at most `inFlight` unconfirmed, in order of issue. */
export async function pipeline(
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

/** Resolves once the peers have received `total` messages between them. */
export function countTo(peers: readonly BenchPeer[], total: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve) => {
    for (const peer of peers) {
      peer.onMessage = () => {
        if (++seen === total) resolve();
      };
    }
  });
}

/**
 * Pipelines `messages` from `sender` and waits until `receivers` got
 * `deliveries` of them (more than the messages on a fan-out); resolves to
 * the milliseconds from the first send to the last delivery.
 */
export async function deliverAll(
  sender: BenchPeer,
  receivers: readonly BenchPeer[],
  messages: readonly Message[],
  { inFlight, deliveries = messages.length }: { inFlight: number; deliveries?: number },
): Promise<number> {
  const all = countTo(receivers, deliveries);
  const start = performance.now();
  await pipeline(sender, messages, inFlight);
  await all;
  return performance.now() - start;
}

/** Sequential awaited send → callback round trips, in microseconds, sorted. */
export async function roundTrips(
  sender: BenchPeer,
  receiver: BenchPeer,
  keys: readonly string[],
  count: number,
): Promise<number[]> {
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

/**
 * `roundTrips` after as many untimed ones. Right after a full collection (a
 * heap reading) or on a pair that has not sent yet, a few hundred round trips
 * run slower than the ones after them, for the raw clients too: that is not
 * what a binding costs.
 */
export async function settledRoundTrips(
  sender: BenchPeer,
  receiver: BenchPeer,
  keys: readonly string[],
  count: number,
): Promise<number[]> {
  await roundTrips(sender, receiver, keys, count);
  return roundTrips(sender, receiver, keys, count);
}

/** A sender and a receiver on one exchange prefix. */
export async function pair(factory: PeerFactory, prefix: string): Promise<[BenchPeer, BenchPeer]> {
  return [await factory(prefix), await factory(prefix)];
}

/** Runs `body` with peers that are closed afterwards, whatever happens. */
export async function closing<T>(peers: readonly BenchPeer[], body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } finally {
    await Promise.all(peers.map((peer) => peer.close()));
  }
}

/** The heap in use after a full collection (`node --expose-gc`), in MiB. */
export function heapMiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}
