import { createHash } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';

/** Settled deliveries up to this size are kept as they are in the ring of recent ones. */
const MAX_KEPT_BYTES = 16_384;

/**
 * Recognises the redeliveries of messages the handler already had.
 *
 * When a connection dies, RabbitMQ requeues what it had not seen acknowledged
 * and redelivers it, flagged `redelivered`, on the next connection. Core may
 * already hold those messages (not yet settled) or have run the callback on
 * them (settled, but the ack was still on its way). Both are "in doubt": their
 * redeliveries are recognised by exchange, key and body, so the consumer can
 * acknowledge and drop them and the callback sees each message once. The
 * broker never holds more than `prefetch` unacknowledged deliveries, so the
 * settled ones in doubt are among the last `prefetch` settled.
 */
export class Redeliveries {
  readonly #window: number;
  /** Bumped when a connection dies: settling a delivery of an older one changes nothing here. */
  #generation = 0;
  /** Handed to core, not yet settled. */
  readonly #unsettled = new Set<ConsumeMessage>();
  /**
   * The last `window` deliveries settled on this connection (a ring): small
   * ones as they are, fingerprinted only if the connection dies; large ones
   * fingerprinted at once, so the ring holds little memory.
   */
  #recent: (ConsumeMessage | string)[] = [];
  #recentNext = 0;
  /** Fingerprints of in-doubt deliveries, with how many redeliveries to drop. */
  readonly #inDoubt = new Map<string, number>();

  constructor(prefetch: number) {
    this.#window = prefetch;
  }

  /** Which connection deliveries come from now: what `settled()` is told back. */
  get generation(): number {
    return this.#generation;
  }

  /** A delivery handed to core. */
  handed(message: ConsumeMessage): void {
    this.#unsettled.add(message);
  }

  /** Core is done with a delivery handed to it while the connection of `generation` was up. */
  settled(message: ConsumeMessage, generation: number): void {
    if (generation === this.#generation && this.#unsettled.delete(message)) {
      this.#remember(message);
    }
  }

  /** Whether a delivery flagged `redelivered` is one the handler already had; it is then to be dropped. */
  isDuplicate(message: ConsumeMessage): boolean {
    if (this.#inDoubt.size === 0) return false;
    const id = fingerprint(message);
    const count = this.#inDoubt.get(id);
    if (count === undefined) return false;
    if (count <= 1) this.#inDoubt.delete(id);
    else this.#inDoubt.set(id, count - 1);
    // Its ack could be lost too, if this connection dies as well.
    this.#remember(message);
    return true;
  }

  /** The connection died: what it left unacknowledged may come back, once. */
  connectionLost(): void {
    this.#generation++;
    for (const message of this.#unsettled) this.#addInDoubt(fingerprint(message));
    for (const entry of this.#recent) {
      this.#addInDoubt(typeof entry === 'string' ? entry : fingerprint(entry));
    }
    this.#unsettled.clear();
    this.#recent = [];
    this.#recentNext = 0;
    // Bounded: what was not redelivered by now was acknowledged after all.
    const limit = 4 * this.#window;
    for (const id of this.#inDoubt.keys()) {
      if (this.#inDoubt.size <= limit) break;
      this.#inDoubt.delete(id);
    }
  }

  #remember(message: ConsumeMessage): void {
    const id = message.content.length <= MAX_KEPT_BYTES ? message : fingerprint(message);
    if (this.#recent.length < this.#window) {
      this.#recent.push(id);
      return;
    }
    this.#recent[this.#recentNext] = id;
    this.#recentNext = (this.#recentNext + 1) % this.#window;
  }

  #addInDoubt(id: string): void {
    // Re-inserted at the end, so the oldest entries are the first evicted.
    const count = this.#inDoubt.get(id) ?? 0;
    this.#inDoubt.delete(id);
    this.#inDoubt.set(id, count + 1);
  }
}

function fingerprint(message: ConsumeMessage): string {
  const digest = createHash('sha1').update(message.content).digest('base64');
  return `${message.fields.exchange}\u0000${message.fields.routingKey}\u0000${digest}`;
}
