import { type AMQExchangeName, EXCHANGE_NAMES } from '@teal/amq-core/adapter';
import {
  connect as amqpConnect,
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
} from 'amqplib';
import { AckBatcher } from './acks';
import { describe } from './errors';
import type { AmqpSettings } from './options';

/** What a session tells its transport. */
export interface SessionEvents {
  /** A delivery from the handler's queue; `ack` acknowledges it on the channel it came on. */
  onMessage(message: ConsumeMessage, ack: () => void): void;
  /** The publish channel can take writes again after `publish` returned `false`. */
  onDrain(): void;
  /** The connection or a channel ended without `close()`: the session is dead. */
  onLost(error: Error): void;
  /** RabbitMQ blocked or unblocked publishing (a resource alarm). */
  onBlocked(reason: string | null): void;
}

/** How long a graceful close may take before the socket is simply destroyed. */
const CLOSE_TIMEOUT_MS = 5_000;
/** How long opening the TCP connection and the AMQP handshake may take. */
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * Channels that carry queue.bind and queue.unbind. A channel has one RPC in
 * flight at a time; RabbitMQ handles several channels' binds in parallel
 * (10,000 binds: 8.7 s on one channel, 3.5 s on four, 3.4 s on eight, here).
 */
const BINDING_CHANNELS = 4;

/**
 * One connection to RabbitMQ with its channels: a confirm channel for
 * publishing, a plain channel that declares and consumes (so publish
 * back-pressure never holds acknowledgements back), and a few that bind. A session never
 * recovers: when anything in it fails, it reports `onLost` once and the
 * transport opens a new one.
 */
export class AmqpSession {
  readonly #settings: AmqpSettings;
  readonly #events: SessionEvents;
  readonly #model: ChannelModel;
  readonly #publisher: ConfirmChannel;
  readonly #consumer: Channel;
  readonly #binders: readonly Channel[];
  #nextBinder = 0;
  #isEnded = false;
  /** Set once `open` succeeded: only an opened session reports `onLost`. */
  #isOpened = false;
  #closing: Promise<void> | null = null;
  #consumerTag: string | null = null;

  private constructor(
    settings: AmqpSettings,
    events: SessionEvents,
    model: ChannelModel,
    publisher: ConfirmChannel,
    consumer: Channel,
    binders: readonly Channel[],
  ) {
    this.#settings = settings;
    this.#events = events;
    this.#model = model;
    this.#publisher = publisher;
    this.#consumer = consumer;
    this.#binders = binders;
  }

  /**
   * Connects, declares the exchanges and the handler's queue, binds `bindings`
   * and starts consuming. Rejects (with the connection closed) if any step fails.
   */
  static async open(
    settings: AmqpSettings,
    events: SessionEvents,
    bindings: Iterable<readonly [AMQExchangeName, string]>,
  ): Promise<AmqpSession> {
    const model = await amqpConnect(settings.url, {
      noDelay: true,
      timeout: CONNECT_TIMEOUT_MS,
      clientProperties: { connection_name: settings.connectionName },
    });
    // Until the session is wired, errors only need to be kept from crashing the process.
    const ignore = () => {};
    model.on('error', ignore);
    try {
      const publisher = await model.createConfirmChannel();
      publisher.on('error', ignore);
      const consumer = await model.createChannel();
      consumer.on('error', ignore);
      const binders = await Promise.all(
        Array.from({ length: BINDING_CHANNELS }, () => model.createChannel()),
      );
      for (const binder of binders) binder.on('error', ignore);
      const session = new AmqpSession(settings, events, model, publisher, consumer, binders);
      session.#watch();
      await session.#declare(bindings);
      if (session.#isEnded) throw new Error('the connection closed while it was being set up');
      session.#isOpened = true;
      return session;
    } catch (error) {
      await closeQuietly(model);
      throw error;
    }
  }

  /** Whether the session ended (lost or closed). */
  get isEnded(): boolean {
    return this.#isEnded;
  }

  /**
   * Writes a message on the confirm channel; `confirmed` gets the broker's ack
   * (`null`) or an error. Returns `false` when the channel's buffer is full:
   * wait for `onDrain` before writing more. Throws if the channel is closed.
   */
  publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: Buffer,
    confirmed: (error: unknown) => void,
  ): boolean {
    return this.#publisher.publish(
      this.#settings.exchangePrefix + exchange,
      routingKey,
      body,
      { contentType: 'application/json' },
      confirmed,
    );
  }

  async bind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    await this.#binder().bindQueue(
      this.#settings.queueName,
      this.#settings.exchangePrefix + exchange,
      routingKey,
    );
  }

  async unbind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    await this.#binder().unbindQueue(
      this.#settings.queueName,
      this.#settings.exchangePrefix + exchange,
      routingKey,
    );
  }

  /**
   * Ends the session. With `deleteQueue`, the handler's queue goes too (its
   * consumer is cancelled first); otherwise the broker keeps it for
   * `queueExpiresMs`. Never rejects, and never takes much longer than 5 s.
   */
  close(options: { deleteQueue: boolean }): Promise<void> {
    this.#isEnded = true;
    if (this.#closing === null) this.#closing = this.#shutdown(options.deleteQueue);
    return this.#closing;
  }

  /** Kills the TCP connection without a word to the broker: what a network failure does. */
  /** The binding channels in turn. */
  #binder(): Channel {
    return this.#binders[this.#nextBinder++ % this.#binders.length]!;
  }

  destroySocket(): void {
    this.#destroySocket();
  }

  async #declare(bindings: Iterable<readonly [AMQExchangeName, string]>): Promise<void> {
    const { exchangePrefix, queueName, queueExpiresMs, prefetch } = this.#settings;
    const channel = this.#consumer;
    // The flags aio-pika declares by default: RabbitMQ refuses a redeclaration with others.
    for (const exchange of EXCHANGE_NAMES) {
      await channel.assertExchange(exchangePrefix + exchange, 'direct', {
        durable: false,
        autoDelete: false,
      });
    }
    // Not exclusive nor auto-delete, so it outlives a dropped connection and
    // keeps what arrives meanwhile; `x-expires` removes it once unused that long.
    await channel.assertQueue(queueName, {
      durable: false,
      exclusive: false,
      autoDelete: false,
      expires: queueExpiresMs,
    });
    const binds: Promise<unknown>[] = [];
    for (const [exchange, key] of bindings) binds.push(this.bind(exchange, key));
    await Promise.all(binds);
    await channel.prefetch(prefetch);
    const acks = new AckBatcher(channel);
    const { consumerTag } = await channel.consume(
      queueName,
      (message) => {
        if (message === null) {
          this.#lose(new Error('the broker cancelled the consumer (the queue was deleted)'));
          return;
        }
        this.#events.onMessage(message, () => acks.settle(message));
      },
      { noAck: false },
    );
    this.#consumerTag = consumerTag;
  }

  #watch(): void {
    const model = this.#model;
    model.on('close', (error?: Error) => this.#lose(error ?? new Error('connection closed')));
    model.on('error', (error: Error) => this.#lose(error));
    model.on('blocked', (reason: string) => this.#events.onBlocked(reason));
    model.on('unblocked', () => this.#events.onBlocked(null));
    for (const channel of [this.#publisher, this.#consumer, ...this.#binders]) {
      // Deferred: when the connection closes, its channels close first, and
      // the connection's 'close' that follows carries the reason.
      channel.on('close', () => queueMicrotask(() => this.#lose(new Error('channel closed'))));
      channel.on('error', (error: Error) => this.#lose(error));
    }
    this.#publisher.on('drain', () => this.#events.onDrain());
  }

  #lose(error: Error): void {
    if (this.#isEnded) return;
    this.#isEnded = true;
    if (this.#isOpened) this.#events.onLost(new Error(describe(error)));
    // A channel may die alone (a 404 on publish): end the connection it leaves behind.
    void this.close({ deleteQueue: false });
  }

  async #shutdown(deleteQueue: boolean): Promise<void> {
    const graceful = (async () => {
      // Let the sends already written get their confirms rather than a "channel closed".
      await this.#publisher.waitForConfirms().catch(() => {});
      if (deleteQueue) {
        if (this.#consumerTag !== null) {
          await this.#consumer.cancel(this.#consumerTag).catch(() => {});
        }
        await this.#consumer.deleteQueue(this.#settings.queueName).catch(() => {});
      }
      await this.#model.close();
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), CLOSE_TIMEOUT_MS);
    });
    const isClosed = await Promise.race([
      graceful.then(
        () => true,
        () => false,
      ),
      timeout,
    ]);
    clearTimeout(timer);
    if (!isClosed) this.#destroySocket();
  }

  #destroySocket(): void {
    const stream = (this.#model.connection as { stream?: { destroy(error?: Error): void } }).stream;
    // With an error: amqplib watches the socket's 'error' and 'end', not a bare destroy.
    stream?.destroy(new Error('socket destroyed'));
  }
}

async function closeQuietly(model: ChannelModel): Promise<void> {
  try {
    await model.close();
  } catch {
    // Already closed.
  }
}
