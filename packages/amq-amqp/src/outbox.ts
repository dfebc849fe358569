import { type AMQExchangeName, AMQSendError } from '@teal/amq-core/adapter';
import { describe } from './errors';
import type { AmqpSession } from './session';

interface PendingPublish {
  readonly exchange: AMQExchangeName;
  readonly routingKey: string;
  readonly body: Buffer;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  /** Timed out or failed while waiting: never written. */
  isAbandoned: boolean;
}

/**
 * Publishes on the current session's confirm channel, pipelined: each publish
 * is written at once and settles on the broker's ack or nack. Publishes wait,
 * in order, while there is no session (an outage) or while the channel's
 * buffer is full (until `drain`), at most `timeoutMs`, after which they
 * reject without ever being written.
 */
export class Outbox {
  readonly #timeoutMs: number;
  #session: AmqpSession | null = null;
  #isWritable = false;
  // A FIFO as an array and a head index: shift() on a long array is O(n).
  #waiting: PendingPublish[] = [];
  #head = 0;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  publish(exchange: AMQExchangeName, routingKey: string, body: string | Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry: PendingPublish = {
        exchange,
        routingKey,
        body: toBuffer(body),
        resolve,
        reject,
        timer: undefined,
        isAbandoned: false,
      };
      if (this.#isWritable && this.#head === this.#waiting.length) {
        this.#write(entry);
        return;
      }
      entry.timer = setTimeout(() => {
        entry.isAbandoned = true;
        reject(
          new AMQSendError(
            `[@teal/amq-amqp] no connection to RabbitMQ to send on ${exchange} within ${this.#timeoutMs} ms; check that the broker is up`,
          ),
        );
      }, this.#timeoutMs);
      this.#waiting.push(entry);
    });
  }

  /** Publishes go to this session from now on; what waited is written first, in order. */
  attach(session: AmqpSession): void {
    this.#session = session;
    this.#isWritable = true;
    this.#flush();
  }

  /** The session is gone: publishes wait for the next one. */
  detach(): void {
    this.#session = null;
    this.#isWritable = false;
  }

  /** The channel's buffer emptied after a write returned `false`. */
  drained(session: AmqpSession): void {
    if (session !== this.#session) return;
    this.#isWritable = true;
    this.#flush();
  }

  /** Rejects every waiting publish (the handler is closing). */
  failAll(error: Error): void {
    this.detach();
    const waiting = this.#waiting.slice(this.#head);
    this.#waiting = [];
    this.#head = 0;
    for (const entry of waiting) this.#abandon(entry, error);
  }

  #flush(): void {
    while (this.#isWritable && this.#head < this.#waiting.length) {
      const entry = this.#waiting[this.#head]!;
      this.#head++;
      if (this.#head === this.#waiting.length) {
        this.#waiting = [];
        this.#head = 0;
      }
      if (entry.isAbandoned) continue;
      clearTimeout(entry.timer);
      this.#write(entry);
    }
  }

  #write(entry: PendingPublish): void {
    const session = this.#session!;
    let isWritable: boolean;
    try {
      isWritable = session.publish(entry.exchange, entry.routingKey, entry.body, (error) => {
        if (error === null || error === undefined) entry.resolve();
        else entry.reject(confirmError(entry.exchange, error));
      });
    } catch (error) {
      // Not written: the channel closed under us. Reject rather than guess.
      entry.reject(
        new AMQSendError(
          `[@teal/amq-amqp] could not write the message on ${entry.exchange}: ${describe(error)}`,
          { cause: error },
        ),
      );
      return;
    }
    if (!isWritable) this.#isWritable = false;
  }

  #abandon(entry: PendingPublish, error: Error): void {
    if (entry.isAbandoned) return;
    entry.isAbandoned = true;
    clearTimeout(entry.timer);
    entry.reject(error);
  }
}

function confirmError(exchange: AMQExchangeName, error: unknown): AMQSendError {
  const reason = describe(error);
  const message =
    reason === 'message nacked'
      ? `[@teal/amq-amqp] RabbitMQ refused (nack) the message on ${exchange}; it was not delivered`
      : `[@teal/amq-amqp] the channel closed before RabbitMQ confirmed the message on ${exchange} (${reason}); it may or may not have been routed`;
  return new AMQSendError(message, { cause: error });
}

function toBuffer(body: string | Uint8Array): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
