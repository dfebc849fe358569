interface Evaluator {
  eval(script: string, keys: number, ...args: string[]): Promise<unknown>;
}

/**
 * The server's clock, read on the node that holds KEYS[1] (in a cluster, the
 * node of the prefix's slot, whose clock judges the deadlines). Reads no key.
 */
const TIME_SCRIPT = `return redis.call('TIME')`;

/** How many recent measurements the offset is the best of. */
const KEPT = 4;

/**
 * How far Redis's clock is ahead of this process's, so that a deadline on the
 * local clock can be checked by Redis (the publisher's script). Measured on every
 * (re)connection and with every heartbeat. Each measurement is a lower bound —
 * the server read its clock before the reply arrived — so a deadline turned
 * into server time is never later than the true one: a write refused a little
 * early, never accepted late. The offset is the highest of the last few
 * measurements on this connection: one taken while the event loop stalled
 * (a reply read late) would make it needlessly early.
 */
export class ServerClock {
  readonly #client: Evaluator;
  readonly #key: string;
  /** Server time minus local time, in ms, at most; 0 until measured. */
  #offsetMs = 0;
  #recent: number[] = [];

  /** `key` names the node whose clock counts (any key of the prefix's slot); it is never written. */
  constructor(client: Evaluator, key: string) {
    this.#client = client;
    this.#key = key;
  }

  /** Reads the server's clock once and updates the offset. */
  async measure(): Promise<void> {
    const reply = await this.#client.eval(TIME_SCRIPT, 1, this.#key);
    // Date.now() counts whole ms: the reply arrived up to 1 ms after the value read here.
    const receivedAt = Date.now() + 1;
    if (!Array.isArray(reply) || reply.length !== 2) throw new TypeError('TIME: unexpected reply');
    const serverMs = Number(reply[0]) * 1_000 + Math.floor(Number(reply[1]) / 1_000);
    if (!Number.isFinite(serverMs)) throw new TypeError('TIME: unexpected reply');
    this.#recent.push(serverMs - receivedAt);
    if (this.#recent.length > KEPT) this.#recent.shift();
    this.#offsetMs = Math.max(...this.#recent);
  }

  /** The connection dropped: the next server may keep another time. The offset stands until measured. */
  forget(): void {
    this.#recent = [];
  }

  /** A local time (ms since the epoch) on the server's clock. */
  toServer(localMs: number): number {
    return Math.floor(localMs + this.#offsetMs);
  }
}
