import { type CallbackState, type StateStore, StateStoreError } from './store';

export interface MemoryStateStoreOptions {
  /** How many states it holds at most; a `create` beyond is refused. */
  readonly maxStates?: number;
  /** How often expired states are swept, and how many entries one sweep looks at. */
  readonly sweepIntervalMs?: number;
  readonly sweepBatch?: number;
  readonly now?: () => number;
}

/**
 * `memory://`: the states of this process only (enough for one instance).
 * Expired states read as unknown at once; a timer sweeps them away in bounded
 * batches, and the number held is capped.
 */
export function createMemoryStateStore(options: MemoryStateStoreOptions = {}): StateStore {
  const maxStates = options.maxStates ?? 100_000;
  const sweepBatch = options.sweepBatch ?? 10_000;
  const now = options.now ?? Date.now;
  const states = new Map<string, CallbackState>();
  // One iterator carried across sweeps: each sweep resumes where the last one stopped.
  let cursor: Iterator<[string, CallbackState]> | null = null;

  function sweep(limit: number): void {
    const at = now();
    for (let seen = 0; seen < limit; seen++) {
      cursor ??= states.entries();
      const next = cursor.next();
      if (next.done) {
        cursor = null;
        return;
      }
      const [state, value] = next.value;
      if (value.expiresAt.getTime() <= at) states.delete(state);
    }
  }

  /** One full pass, when the store is full: bounded by the cap. */
  function sweepAll(): void {
    const at = now();
    for (const [state, value] of states) {
      if (value.expiresAt.getTime() <= at) states.delete(state);
    }
  }

  const timer = setInterval(() => sweep(sweepBatch), options.sweepIntervalMs ?? 30_000);
  timer.unref();

  return {
    async put(state, value) {
      if (!states.has(state) && states.size >= maxStates) sweepAll();
      if (!states.has(state) && states.size >= maxStates) {
        throw new StateStoreError(
          `the memory state store holds ${maxStates} states, its limit: use a redis:// or postgres:// STATE_STORE_URL, or wait for states to expire`,
        );
      }
      // Deleted first, so that a replaced state moves to the end of the sweep order.
      states.delete(state);
      states.set(state, value);
    },
    async get(state) {
      const value = states.get(state);
      if (value === undefined) return null;
      if (value.expiresAt.getTime() <= now()) {
        states.delete(state);
        return null;
      }
      return value;
    },
    async ping() {},
    async close() {
      clearInterval(timer);
      states.clear();
    },
  };
}
