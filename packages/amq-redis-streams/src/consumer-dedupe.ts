/** How far back, in a producer's sequence numbers, a late write is still told from a repeat. */
export const REORDER_WINDOW = 1_024;

interface ProducerState {
  highest: number;
  /** The sequences seen in (highest - REORDER_WINDOW, highest], and a few older ones until pruned. */
  readonly seen: Set<number>;
  seenAt: number;
}

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
      producers.set(producer, { highest: sequence, seen: new Set([sequence]), seenAt: now });
      return false;
    }
    state.seenAt = now;
    if (sequence > state.highest) {
      state.highest = sequence;
      state.seen.add(sequence);
      // Every sequence in the window is distinct, so at twice its size at least half are stale.
      if (state.seen.size >= 2 * REORDER_WINDOW) {
        for (const old of state.seen) if (old <= sequence - REORDER_WINDOW) state.seen.delete(old);
      }
      return false;
    }
    // Too old to tell a late write from a repeat: a repeat is by far the likelier.
    if (sequence <= state.highest - REORDER_WINDOW || state.seen.has(sequence)) return true;
    state.seen.add(sequence);
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
