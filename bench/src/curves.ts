import { callbacks, closing, deliverAll, heapMiB, pair, settledRoundTrips } from './drive';
import type { Point } from './growth';
import type { BenchPeer, PeerFactory } from './peer';
import { type Sizes, sendPayloads } from './scenarios';
import { percentile, spread } from './stats';

/** The cost curves `pnpm bench` draws, per adapter. */
export type CurveName = 'bindings-p50' | 'bindings-heap' | 'handlers' | 'payload';

/** One adapter's curve as the results file keeps it. */
export interface Curve {
  readonly target: string;
  readonly curve: CurveName;
  readonly points: readonly Point[];
  /** What bounded the curve, said under its chart. */
  readonly note?: string;
}

/** What limits a target's curves on a shared server. */
export interface CurveLimits {
  /** The most handlers one process may open, and why. */
  readonly maxHandlers?: { readonly count: number; readonly reason: string };
}

/** The points of one or more curves measured together, filled in as they are measured. */
type Collected = Partial<Record<CurveName, Point[]>>;

/** Binds in flight at most, so that none outlasts the adapter's bind deadline on a slow broker. */
export const BIND_BATCH = 200;

/**
 * Measures every curve of one adapter, one after the other, each on fresh
 * peers. A curve that fails keeps the points measured before, and says
 * where and why it stopped: one broker's hiccup does not sink the run.
 */
export async function measureCurves(
  target: string,
  factory: PeerFactory,
  prefix: () => string,
  sizes: Sizes,
  limits: CurveLimits = {},
): Promise<Curve[]> {
  const { maxHandlers } = limits;
  const isBounded =
    maxHandlers !== undefined && Math.max(...sizes.curves.handlers) > maxHandlers.count;
  const notes: Partial<Record<CurveName, string>> = isBounded
    ? { handlers: maxHandlers.reason }
    : {};
  const collected: Collected = {};
  const measures: ReadonlyArray<[readonly CurveName[], () => Promise<void>]> = [
    [['bindings-p50', 'bindings-heap'], () => bindingsCurves(factory, prefix(), sizes, collected)],
    [['handlers'], () => handlersCurve(factory, prefix(), sizes, limits, collected)],
    [['payload'], () => payloadCurve(factory, prefix(), sizes, collected)],
  ];
  for (const [names, measure] of measures) {
    try {
      await measure();
    } catch (error) {
      const reason = `stopped after ${collected[names[0]!]?.length ?? 0} points: ${error instanceof Error ? error.message : String(error)}`;
      console.log(`  (${target} ${names.join(', ')}: ${reason})`);
      for (const name of names) notes[name] = reason;
    }
  }
  return (['bindings-p50', 'bindings-heap', 'handlers', 'payload'] as const).map((curve) => ({
    target,
    curve,
    points: collected[curve] ?? [],
    ...(notes[curve] !== undefined && { note: notes[curve] }),
  }));
}

/**
 * One handler bound to ever more keys: at each point of
 * `sizes.curves.bindings`, the heap its bindings hold and the p50 of round
 * trips on keys drawn among them.
 */
async function bindingsCurves(
  factory: PeerFactory,
  prefix: string,
  sizes: Sizes,
  collected: Collected,
): Promise<void> {
  const p50: Point[] = [];
  const heap: Point[] = [];
  collected['bindings-p50'] = p50;
  collected['bindings-heap'] = heap;
  const [sender, receiver] = await pair(factory, prefix);
  await closing([sender, receiver], async () => {
    const heapBefore = heapMiB();
    let bound = 0;
    for (const count of sizes.curves.bindings) {
      while (bound < count) {
        const batch = Array.from(
          { length: Math.min(BIND_BATCH, count - bound) },
          (_, i) => bound + i,
        );
        await Promise.all(batch.map((index) => receiver.bind(`bind-${index}`)));
        bound += batch.length;
      }
      heap.push([count, heapMiB() - heapBefore]);
      const probes = Array.from(
        { length: sizes.bindingProbes },
        () => `bind-${Math.floor(Math.random() * count)}`,
      );
      const samples = await settledRoundTrips(sender, receiver, probes, probes.length);
      p50.push([count, percentile(samples, 50)]);
    }
  });
}

/**
 * Ever more handlers in the process, each bound to a key of its own, and
 * one sender spreading its messages over their keys: messages delivered per
 * second, the median of `repeats` measures at each point.
 */
async function handlersCurve(
  factory: PeerFactory,
  prefix: string,
  sizes: Sizes,
  { maxHandlers }: CurveLimits,
  collected: Collected,
): Promise<void> {
  const points: Point[] = [];
  collected.handlers = points;
  const sender = await factory(prefix);
  const receivers: BenchPeer[] = [];
  const peers: BenchPeer[] = [sender];
  await closing(peers, async () => {
    const counts = sizes.curves.handlers.map((count) =>
      Math.min(count, maxHandlers?.count ?? count),
    );
    for (const count of new Set(counts)) {
      const added = await Promise.all(
        Array.from({ length: count - receivers.length }, () => factory(prefix)),
      );
      peers.push(...added);
      await Promise.all(added.map((peer, i) => peer.bind(`h-${receivers.length + i}`)));
      receivers.push(...added);
      const keys = receivers.map((_, i) => `h-${i}`);
      const rates: number[] = [];
      for (let repeat = 0; repeat < sizes.curves.repeats; repeat++) {
        const messages = callbacks(sizes.curves.handlerMessages, keys);
        const ms = await deliverAll(sender, receivers, messages, sizes);
        rates.push((messages.length / ms) * 1000);
      }
      points.push([count, spread(rates).median]);
    }
  });
}

/** Messages per second at each payload size, about `payloadBudget` bytes sent per size. */
async function payloadCurve(
  factory: PeerFactory,
  prefix: string,
  sizes: Sizes,
  collected: Collected,
): Promise<void> {
  const points: Point[] = [];
  collected.payload = points;
  const [sender, receiver] = await pair(factory, prefix);
  await closing([sender, receiver], async () => {
    const [least, most] = sizes.curves.payloadCount;
    for (const bytes of sizes.curves.payloadBytes) {
      const count = Math.min(most, Math.max(least, Math.round(sizes.curves.payloadBudget / bytes)));
      const seconds = await sendPayloads(sender, receiver, bytes, count);
      points.push([bytes, count / seconds]);
    }
  });
}
