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

interface KeyState {
  readonly exchange: AMQExchangeName;
  readonly key: string;
  readonly holders: Set<Holder>;
  /** The last bind queued, while the key is held: what a new holder waits for. */
  bound: Promise<void> | null;
  /** Settles once every broker operation queued for the key has. */
  chain: Promise<void>;
}

/**
 * The keys a handler is bound to, with who holds each: the broker binding
 * exists while at least one holder does, made by the first holder and undone
 * by the last to let go. Broker operations on one key run one after the
 * other, so the broker ends in the state of the last change.
 */
export class Bindings {
  readonly #keys = new Map<string, KeyState>();
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
    return (this.#keys.get(idOf(exchange, key))?.holders.size ?? 0) > 0;
  }

  /** Every held (exchange, key): what a reconnect must restore, and nothing more. */
  *entries(): IterableIterator<readonly [AMQExchangeName, string]> {
    for (const state of this.#keys.values()) {
      if (state.holders.size > 0) yield [state.exchange, state.key];
    }
  }

  /** How many keys are held. */
  get size(): number {
    let size = 0;
    for (const state of this.#keys.values()) if (state.holders.size > 0) size++;
    return size;
  }

  /**
   * Adds a holder to the key, held at once (deliveries that arrive while the
   * broker binds are kept); resolves once the broker binding is in place. When
   * the bind fails, every holder that waited for it lets go.
   */
  hold(exchange: AMQExchangeName, key: string, holder: Holder, signal: AbortSignal): Promise<void> {
    const state = this.#stateOf(exchange, key);
    state.holders.add(holder);
    if (state.bound === null) {
      const bound = this.#enqueue(state, 'bind', signal);
      state.bound = bound;
      bound.catch(() => {
        // Those who waited for this bind learn it failed; the key is free again.
        if (state.bound !== bound) return;
        state.bound = null;
        state.holders.clear();
        this.#forgetIfIdle(state);
      });
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
    const state = this.#keys.get(idOf(exchange, key));
    if (state === undefined || !state.holders.delete(holder) || state.holders.size > 0) {
      return Promise.resolve();
    }
    state.bound = null;
    return this.#enqueue(state, 'unbind', signal);
  }

  /** Whether `holder` holds the key. */
  isHeldBy(exchange: AMQExchangeName, key: string, holder: Holder): boolean {
    return this.#keys.get(idOf(exchange, key))?.holders.has(holder) ?? false;
  }

  /** Settles once every broker operation in flight has. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#keys.values()].map((state) => state.chain));
  }

  #stateOf(exchange: AMQExchangeName, key: string): KeyState {
    const id = idOf(exchange, key);
    let state = this.#keys.get(id);
    if (state === undefined) {
      state = { exchange, key, holders: new Set(), bound: null, chain: Promise.resolve() };
      this.#keys.set(id, state);
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
      if (state.chain === chain) this.#forgetIfIdle(state);
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
      if (state.holders.size > 0 || state.bound !== null) return;
      this.#enqueue(state, 'unbind').catch((error: unknown) => this.#report(error, state.exchange));
    }, 0);
  }

  #forgetIfIdle(state: KeyState): void {
    const id = idOf(state.exchange, state.key);
    if (state.holders.size === 0 && state.bound === null && this.#keys.get(id) === state) {
      // Only once nothing is queued: a later operation must still run after the pending ones.
      void state.chain.then(() => {
        if (state.holders.size === 0 && state.bound === null && this.#keys.get(id) === state) {
          this.#keys.delete(id);
        }
      });
    }
  }
}

function idOf(exchange: AMQExchangeName, key: string): string {
  return `${exchange}\u0000${key}`;
}

function ignore(): void {}
