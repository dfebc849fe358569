import type { Channel, ConsumeMessage } from 'amqplib';

/**
 * Acknowledges a consumer channel's deliveries in batches: once every
 * delivery up to some tag is settled, one `basic.ack` with `multiple` covers
 * them all, sent when the current burst of I/O has been handled. Deliveries
 * settled out of order (a callback concurrency above 1) wait for the ones
 * before them, so nothing is acknowledged before it is settled.
 */
export class AckBatcher {
  readonly #channel: Channel;
  /** Every tag up to this one is settled. */
  #settledUpTo = 0;
  /** Every tag up to this one is acknowledged (or about to be, in the scheduled flush). */
  #ackedUpTo = 0;
  /** Settled tags above `#settledUpTo`. */
  readonly #ahead = new Set<number>();
  #last: ConsumeMessage | null = null;
  #isScheduled = false;

  constructor(channel: Channel) {
    this.#channel = channel;
  }

  /** Marks a delivery of this channel settled. */
  settle(message: ConsumeMessage): void {
    const tag = message.fields.deliveryTag;
    if (tag !== this.#settledUpTo + 1) {
      this.#ahead.add(tag);
      return;
    }
    this.#settledUpTo = tag;
    this.#last = message;
    while (this.#ahead.delete(this.#settledUpTo + 1)) this.#settledUpTo++;
    if (this.#settledUpTo !== tag) {
      // A later delivery is the last settled one; the ack names it by tag only.
      this.#last = { ...message, fields: { ...message.fields, deliveryTag: this.#settledUpTo } };
    }
    if (!this.#isScheduled) {
      this.#isScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#isScheduled = false;
    const last = this.#last;
    if (last === null || this.#settledUpTo <= this.#ackedUpTo) return;
    this.#ackedUpTo = this.#settledUpTo;
    this.#last = null;
    try {
      this.#channel.ack(last, true);
    } catch {
      // The channel is gone: RabbitMQ requeued what it had not seen acknowledged.
    }
  }
}
