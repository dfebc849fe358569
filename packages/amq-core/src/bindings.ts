import type { AMQExchangeName } from './exchanges';

/** Who holds a key: the explicit binds (one holder for all of them), a waiter, a subscription. */
export type Holder = object;

/**
 * Binds or unbinds one key on the broker; rejects when the broker does not.
 * Without a signal, it makes its own deadline.
 */
export type BrokerOperation = (
  operation: 'bind' | 'unbind',
  exchange: AMQExchangeName,
  key: string,
  signal: AbortSignal | undefined,
) => Promise<void>;

/**
 * One key. A handler may hold thousands, nearly each by one holder (the
 * explicit binds) and with nothing queued: such a key costs this object and
 * its map entry only — a second holder brings a set, and a settled promise
 * gives way to a shared one (a set and two promises per key were 90 % of a
 * bound key's memory).
 */
interface KeyState {
  readonly exchange: AMQExchangeName;
  readonly key: string;
  /** The first holder, or `null`; the others, if any, are in `others`. */
  holder: Holder | null;
  others: Set<Holder> | null;
  /** The last bind queued, while the key is held: what a new holder waits for. */
  bound: Promise<void> | null;
  /** Settles once every broker operation queued for the key has. */
  chain: Promise<void>;
}

const SETTLED: Promise<void> = Promise.resolve();

function holdersOf(state: KeyState): number {
  return (state.holder === null ? 0 : 1) + (state.others?.size ?? 0);
}

function isHolder(state: KeyState, holder: Holder): boolean {
  return state.holder === holder || (state.others?.has(holder) ?? false);
}

function addHolder(state: KeyState, holder: Holder): void {
  if (isHolder(state, holder)) return;
  if (state.holder === null) {
    state.holder = holder;
    return;
  }
  state.others ??= new Set();
  state.others.add(holder);
}

/** Whether `holder` held the key. */
function deleteHolder(state: KeyState, holder: Holder): boolean {
  if (state.holder === holder) {
    state.holder = null;
    return true;
  }
  return state.others?.delete(holder) ?? false;
}

function clearHolders(state: KeyState): void {
  state.holder = null;
  state.others = null;
}

/**
 * The keys a handler is bound to, with who holds each: the broker binding
 * exists while at least one holder does, made by the first holder and undone
 * by the last to let go. Broker operations on one key run one after the
 * other, so the broker ends in the state of the last change.
 */
export class Bindings {
  /** By exchange, then key: no string is built per key. */
  readonly #keys = new Map<AMQExchangeName, Map<string, KeyState>>();
  readonly #broker: BrokerOperation;
  readonly #report: (error: unknown, exchange: AMQExchangeName) => void;

  /** `report` hears of the failures nobody awaits: undoing a bind that answered too late. */
  constructor(
    broker: BrokerOperation,
    report: (error: unknown, exchange: AMQExchangeName) => void,
  ) {
    this.#broker = broker;
    this.#report = report;
  }

  /** Whether the key has a holder: its deliveries are wanted. */
  has(exchange: AMQExchangeName, key: string): boolean {
    const state = this.#find(exchange, key);
    return state !== undefined && holdersOf(state) > 0;
  }

  /** Every held (exchange, key): what a reconnect must restore, and nothing more. */
  *entries(): IterableIterator<readonly [AMQExchangeName, string]> {
    for (const keys of this.#keys.values()) {
      for (const state of keys.values()) {
        if (holdersOf(state) > 0) yield [state.exchange, state.key];
      }
    }
  }

  /** How many keys are held. */
  get size(): number {
    let size = 0;
    for (const keys of this.#keys.values()) {
      for (const state of keys.values()) if (holdersOf(state) > 0) size++;
    }
    return size;
  }

  /**
   * Adds a holder to the key, held at once (deliveries that arrive while the
   * broker binds are kept); resolves once the broker binding is in place. When
   * the bind fails, every holder that waited for it lets go.
   */
  hold(exchange: AMQExchangeName, key: string, holder: Holder, signal: AbortSignal): Promise<void> {
    const state = this.#stateOf(exchange, key);
    addHolder(state, holder);
    if (state.bound === null) {
      const bound = this.#enqueue(state, 'bind', signal);
      state.bound = bound;
      bound.then(
        () => {
          // Bound: a new holder has nothing to wait for, and a settled promise serves every key.
          if (state.bound === bound) state.bound = SETTLED;
        },
        () => {
          // Those who waited for this bind learn it failed; the key is free again.
          if (state.bound !== bound) return;
          state.bound = null;
          clearHolders(state);
          this.#forgetIfIdle(state);
        },
      );
    }
    return state.bound;
  }

  /** Removes a holder; the last one out unbinds the key on the broker. */
  release(
    exchange: AMQExchangeName,
    key: string,
    holder: Holder,
    signal?: AbortSignal,
  ): Promise<void> {
    const state = this.#find(exchange, key);
    if (state === undefined || !deleteHolder(state, holder) || holdersOf(state) > 0) {
      return Promise.resolve();
    }
    state.bound = null;
    return this.#enqueue(state, 'unbind', signal);
  }

  /** Whether `holder` holds the key. */
  isHeldBy(exchange: AMQExchangeName, key: string, holder: Holder): boolean {
    const state = this.#find(exchange, key);
    return state !== undefined && isHolder(state, holder);
  }

  /** Settles once every broker operation in flight has. */
  async settled(): Promise<void> {
    const chains: Promise<void>[] = [];
    for (const keys of this.#keys.values()) {
      for (const state of keys.values()) chains.push(state.chain);
    }
    await Promise.allSettled(chains);
  }

  #find(exchange: AMQExchangeName, key: string): KeyState | undefined {
    return this.#keys.get(exchange)?.get(key);
  }

  #stateOf(exchange: AMQExchangeName, key: string): KeyState {
    let keys = this.#keys.get(exchange);
    if (keys === undefined) {
      keys = new Map();
      this.#keys.set(exchange, keys);
    }
    let state = keys.get(key);
    if (state === undefined) {
      state = { exchange, key, holder: null, others: null, bound: null, chain: SETTLED };
      keys.set(key, state);
    }
    return state;
  }

  /**
   * Queues a broker operation after the key's earlier ones. The caller's
   * promise settles at `signal` at the latest; the queue moves on only once the
   * broker answered, and a bind that answers after its caller gave up is undone
   * unless someone holds the key again by then.
   */
  #enqueue(state: KeyState, operation: 'bind' | 'unbind', signal?: AbortSignal): Promise<void> {
    let answered: () => void = ignore;
    const chain = new Promise<void>((resolve) => {
      answered = resolve;
    });
    const previous = state.chain;
    state.chain = chain;
    void chain.then(() => {
      if (state.chain !== chain) return;
      state.chain = SETTLED;
      this.#forgetIfIdle(state);
    });
    return previous.then(async () => {
      if (signal?.aborted) {
        answered();
        throw signal.reason;
      }
      const broker = this.#broker(operation, state.exchange, state.key, signal);
      broker.then(answered, answered);
      // The transport settles soon after the signal fires: no listener needed here.
      await broker;
      if (operation === 'bind' && signal?.aborted) {
        this.#undoLateBind(state);
        throw signal.reason;
      }
    });
  }

  /** A bind the broker made after its caller gave up: undone unless someone holds the key again. */
  #undoLateBind(state: KeyState): void {
    // After the failed bind let its holders go (their handlers run in the coming microtasks).
    setTimeout(() => {
      if (holdersOf(state) > 0 || state.bound !== null) return;
      this.#enqueue(state, 'unbind').catch((error: unknown) => this.#report(error, state.exchange));
    }, 0);
  }

  #isCurrent(state: KeyState): boolean {
    return this.#find(state.exchange, state.key) === state;
  }

  #forgetIfIdle(state: KeyState): void {
    if (holdersOf(state) === 0 && state.bound === null && this.#isCurrent(state)) {
      // Only once nothing is queued: a later operation must still run after the pending ones.
      void state.chain.then(() => {
        if (holdersOf(state) === 0 && state.bound === null && this.#isCurrent(state)) {
          const keys = this.#keys.get(state.exchange)!;
          keys.delete(state.key);
          if (keys.size === 0) this.#keys.delete(state.exchange);
        }
      });
    }
  }
}

function ignore(): void {}
