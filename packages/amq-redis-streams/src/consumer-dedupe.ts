/** How far back, in a producer's sequence numbers, a late write is still told from a repeat. */
export const REORDER_WINDOW = 1_024;

interface ProducerState {
  highest: number;
  /** One bit per sequence of (highest - REORDER_WINDOW, highest], at sequence % REORDER_WINDOW: seen or not. */
  readonly seen: Uint32Array;
  seenAt: number;
}

const isSeen = (seen: Uint32Array, sequence: number) =>
  (seen[(sequence % REORDER_WINDOW) >>> 5]! & (1 << (sequence & 31))) !== 0;
const markSeen = (seen: Uint32Array, sequence: number) => {
  seen[(sequence % REORDER_WINDOW) >>> 5]! |= 1 << (sequence & 31);
};
const markUnseen = (seen: Uint32Array, sequence: number) => {
  seen[(sequence % REORDER_WINDOW) >>> 5]! &= ~(1 << (sequence & 31));
};

/**
 * Recognises entries written twice. A sender numbers its writes (producer id
 * + sequence); when its connection drops, ioredis resends every write that
 * had no reply — including ones Redis had already applied, which then appear
 * twice. Per stream and producer, the filter remembers the sequences of the
 * last REORDER_WINDOW writes: a repeat is dropped, a write that arrives late
 * (a retry overtaken by newer writes) still passes. Producers silent for
 * longer than the window time are forgotten.
 */
export class DuplicateFilter {
  readonly #windowMs: number;
  readonly #streams = new Map<string, Map<string, ProducerState>>();
  #prunedAt = Number.NEGATIVE_INFINITY;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Records the entry; whether it repeats one seen before. */
  isDuplicate(stream: string, producer: string, sequence: number, now: number): boolean {
    let producers = this.#streams.get(stream);
    if (producers === undefined) {
      producers = new Map();
      this.#streams.set(stream, producers);
    }
    const state = producers.get(producer);
    if (state === undefined) {
      const seen = new Uint32Array(REORDER_WINDOW / 32);
      markSeen(seen, sequence);
      producers.set(producer, { highest: sequence, seen, seenAt: now });
      return false;
    }
    state.seenAt = now;
    const { seen } = state;
    if (sequence > state.highest) {
      // The sequences skipped enter the window unseen: their bits held ones that leave it.
      if (sequence - state.highest > REORDER_WINDOW) seen.fill(0);
      else
        for (let skipped = state.highest + 1; skipped < sequence; skipped++)
          markUnseen(seen, skipped);
      state.highest = sequence;
      markSeen(seen, sequence);
      return false;
    }
    // Too old to tell a late write from a repeat: a repeat is by far the likelier.
    if (sequence <= state.highest - REORDER_WINDOW || isSeen(seen, sequence)) return true;
    markSeen(seen, sequence);
    return false;
  }

  /** Forgets silent producers, at most once per tenth of the window. */
  prune(now: number): void {
    if (now - this.#prunedAt < this.#windowMs / 10) return;
    this.#prunedAt = now;
    for (const [stream, producers] of this.#streams) {
      for (const [producer, state] of producers) {
        if (now - state.seenAt > this.#windowMs) producers.delete(producer);
      }
      if (producers.size === 0) this.#streams.delete(stream);
    }
  }
}
