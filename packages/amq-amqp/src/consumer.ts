import type { Delivery, TransportContext } from '@teal/amq-core/adapter';
import type { ConsumeMessage } from 'amqplib';
import type { AmqpConnection } from './connection';
import { Redeliveries } from './consumer-redeliveries';
import { boundHeaders } from './headers';
import { exchangeOfBroker } from './names';
import type { AmqpSettings } from './settings';

/** The body size the first prefetch assumes, before any was seen: a large TeaL message. */
const ASSUMED_BODY_BYTES = 4_096;

/**
 * The consumer of the handler's queue: hands each delivery to core and
 * acknowledges it once core has settled it (the callback ran, or the body was
 * dropped), dropping what is not for it — deliveries from a foreign exchange,
 * redeliveries of what the callback already had.
 *
 * It holds RabbitMQ back while the handler's backlog is full. The prefetch
 * bounds the messages (it is at most `maxBacklog`, and at most what half of
 * `maxBacklogBytes` holds at the average body size seen, or 4 KiB before
 * any); when the backlog is full anyway — on bytes — the consumer is
 * cancelled, so the broker keeps the rest, and starts again once the callback
 * has drained the backlog to half. What was already on its way still
 * arrives, in order.
 */
export class Consumer {
  readonly #settings: AmqpSettings;
  readonly #context: TransportContext;
  readonly #redeliveries: Redeliveries;
  /** Runs a queue-wide operation after the others (declare, delete, consume, cancel). */
  readonly #serialize: (operation: () => Promise<void>) => Promise<void>;
  #connection: AmqpConnection | null = null;
  #tag: string | null = null;
  /** The connection whose consumer is cancelled until the backlog has room. */
  #pausedOn: AmqpConnection | null = null;
  #lease: NodeJS.Timeout | null = null;
  #averageBytes = 0;

  constructor(
    settings: AmqpSettings,
    context: TransportContext,
    serialize: (operation: () => Promise<void>) => Promise<void>,
  ) {
    this.#settings = settings;
    this.#context = context;
    this.#redeliveries = new Redeliveries(settings.prefetch);
    this.#serialize = serialize;
  }

  get isConsuming(): boolean {
    return this.#tag !== null;
  }

  /** The connection is gone, and its consumer with it: what it left unacknowledged may come back. */
  detach(): void {
    this.#connection = null;
    this.#tag = null;
    this.#unpause();
    this.#redeliveries.connectionLost();
  }

  /** Consumes the queue on `connection` (called in a serialized operation), unless the backlog is full. */
  async start(connection: AmqpConnection): Promise<void> {
    this.#connection = connection;
    if (this.#tag !== null || this.#pausedOn === connection) return;
    if (this.#context.backlog.room === 0) {
      this.#pause(connection);
      return;
    }
    const tag = await connection.consume(this.#prefetch(), (message, ack) => {
      this.#averageBytes =
        this.#averageBytes === 0
          ? message.content.length
          : this.#averageBytes * 0.9 + message.content.length * 0.1;
      this.#receive(message, ack);
      if (this.#context.backlog.room === 0) this.#pause(connection);
    });
    if (this.#connection === connection) this.#tag = tag;
  }

  /** Cancels the consumer (called in a serialized operation: the queue is about to go). */
  async stop(connection: AmqpConnection): Promise<void> {
    this.#unpause();
    const tag = this.#tag;
    this.#tag = null;
    if (tag !== null && this.#connection === connection) await connection.cancel(tag);
  }

  /** A delivery of the current connection; `ack` acknowledges it on its channel. */
  #receive(message: ConsumeMessage, ack: () => void): void {
    const redeliveries = this.#redeliveries;
    const generation = redeliveries.generation;
    const settled = () => {
      redeliveries.settled(message, generation);
      try {
        ack();
      } catch {
        // Its channel is gone: the broker requeued it, and it is in doubt.
      }
    };
    const { exchange: brokerExchange, routingKey, redelivered } = message.fields;
    const exchange = exchangeOfBroker(this.#context.exchangePrefix, brokerExchange);
    const logger = this.#context.logger;
    if (exchange === undefined) {
      logger.warn('dropped a delivery from an exchange that is not a TeaL one', {
        exchange: brokerExchange,
      });
      settled();
      return;
    }
    if (redelivered && redeliveries.isDuplicate(message)) {
      logger.debug('dropped the redelivery of a message already delivered', { exchange });
      settled();
      return;
    }
    redeliveries.handed(message);
    const delivery: Delivery = { exchange, routingKey, body: message.content, settled };
    // Python peers send none: a delivery without headers pays for nothing more.
    const table = message.properties.headers;
    if (table === undefined || table === null) {
      this.#context.deliver(delivery);
      return;
    }
    const { headers, isTrimmed } = boundHeaders(table);
    if (isTrimmed) {
      logger.warn('left out headers of a delivery past their bounds; its body goes on', {
        exchange,
      });
    }
    this.#context.deliver(headers === undefined ? delivery : { ...delivery, headers });
  }

  /** The most unacknowledged deliveries RabbitMQ may send ahead of the callback. */
  #prefetch(): number {
    const backlog = this.#context.backlog;
    const bound = Math.min(this.#settings.prefetch, backlog.maxMessages);
    const averageBytes = this.#averageBytes === 0 ? ASSUMED_BODY_BYTES : this.#averageBytes;
    const fitting = Math.floor(backlog.maxBytes / 2 / averageBytes);
    return Math.max(1, Math.min(bound, fitting));
  }

  #pause(connection: AmqpConnection): void {
    if (this.#pausedOn === connection) return;
    this.#pausedOn = connection;
    const tag = this.#tag;
    this.#tag = null;
    if (tag !== null) {
      this.#serialize(() => connection.cancel(tag)).catch(() => {
        // The connection died: its consumer went with it.
      });
    }
    // Without a consumer the queue counts as unused: declaring it again keeps `x-expires` away.
    const renewEveryMs = Math.max(1_000, Math.floor(this.#settings.queueExpiresMs / 2));
    this.#lease = setInterval(() => {
      this.#serialize(() => connection.assertQueue()).catch(() => {});
    }, renewEveryMs);
    this.#context.backlog.untilRoom().then(
      () => this.#resume(connection),
      () => this.#unpause(),
    );
  }

  #resume(connection: AmqpConnection): void {
    if (this.#pausedOn !== connection) return;
    this.#unpause();
    if (this.#connection !== connection || connection.isEnded) return;
    this.#serialize(() => this.start(connection)).catch(() => {
      // The connection died: the next one consumes again.
    });
  }

  #unpause(): void {
    this.#pausedOn = null;
    if (this.#lease !== null) clearInterval(this.#lease);
    this.#lease = null;
  }
}
