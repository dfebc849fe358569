import {
  AMQError,
  type AMQExchangeName,
  EXCHANGE_NAMES,
  messageOf,
  redactUrl,
} from '@teal/amq-core/adapter';
import {
  connect as amqpConnect,
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type Message,
  type Options,
} from 'amqplib';
import { coalesceWrites, guardContentHeaders } from './connection-frames';
import { AckBatcher } from './consumer-acks';
import { untilAborted } from './deadlines';
import type { AmqpSettings } from './settings';

/** The handler could not connect to RabbitMQ, or lost its connection. */
export class AmqpConnectionError extends AMQError {
  /** What `instanceof` matches across copies of the package (CommonJS beside ES modules). */
  static override readonly kind: string = 'AmqpConnectionError';
  override name = 'AmqpConnectionError';
}

/**
 * An error for `what` went wrong with the broker at `where` (the URL the user
 * gave, or one of its nodes): a URL is shown with its password masked, and the
 * cause keeps amqplib's message only, with any copy of the password masked too.
 */
export function connectionError(
  what: string,
  settings: AmqpSettings,
  cause: unknown,
  where: string = redactUrl(settings.givenUrl),
): AmqpConnectionError {
  const reason = scrub(messageOf(cause), settings.urls[0]!);
  return new AmqpConnectionError(`[@teal/amq-amqp] ${what} ${where}: ${reason}`, {
    cause: new Error(reason),
  });
}

/** amqplib's message for an error, with the URL's password (if any) masked. */
export function scrub(text: string, url: string): string {
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    // Not a URL: nothing to mask but the text itself is still amqplib's.
  }
  return password === '' ? text : text.split(password).join('***');
}

/** What a connection tells its transport. */
export interface ConnectionEvents {
  /** The publish channel can take writes again after `publish` returned `false`. */
  onDrain(): void;
  /** The connection or a channel ended without `close()`: the connection is dead. */
  onLost(error: Error): void;
  /** RabbitMQ blocked or unblocked publishing (a resource alarm). */
  onBlocked(reason: string | null): void;
  /** RabbitMQ returned a `mandatory` publish: no queue is bound to its key. */
  onReturn(message: Message): void;
  /** A delivery came with a header table amqplib could not decode; it goes on without it. */
  onUndecodableHeaders(): void;
}

/** What a delivery's consumer is told. */
export type DeliveryHandler = (message: ConsumeMessage, ack: () => void) => void;

/** The properties of a plain publish: amqplib only reads them, so one object serves every call. */
const JSON_BODY: Options.Publish = Object.freeze({ contentType: 'application/json' });

/** How long opening the TCP connection and the AMQP handshake may take. */
const CONNECT_TIMEOUT_MS = 10_000;
/** How long a connection that died by itself may take to close before its socket is reset. */
const LOST_CLOSE_MS = 1_000;
/**
 * Channels that carry queue.bind and queue.unbind. A channel has one RPC in
 * flight at a time; RabbitMQ handles several channels' binds in parallel
 * (10,000 binds: 8.7 s on one channel, 3.5 s on four, 3.4 s on eight, here).
 */
const BINDING_CHANNELS = 4;

/**
 * One connection to RabbitMQ with its channels: a confirm channel for
 * publishing, a plain channel that declares, consumes and acknowledges (so
 * publish back-pressure never holds acknowledgements back), and a few that
 * bind. It declares the exchanges and nothing of the handler's own: the
 * queue, its bindings and consumer are `HandlerQueue`'s. A connection never
 * recovers: when anything in it fails, it reports `onLost` once and the
 * keeper opens a new one.
 */
export class AmqpConnection {
  /** The node it is connected to, `host:port`. */
  readonly node: string;
  readonly #settings: AmqpSettings;
  readonly #events: ConnectionEvents;
  readonly #model: ChannelModel;
  readonly #publisher: ConfirmChannel;
  readonly #consumer: Channel;
  readonly #binders: readonly Channel[];
  readonly #acks: AckBatcher;
  #isEnded = false;
  /** Set once `open` succeeded: only an opened connection reports `onLost`. */
  #isOpened = false;
  #closing: Promise<void> | null = null;
  /** Resolves once amqplib reported the connection closed, however it ended. */
  readonly #closed: Promise<void>;
  #onClosed: () => void = () => {};

  private constructor(
    node: string,
    settings: AmqpSettings,
    events: ConnectionEvents,
    model: ChannelModel,
    channels: { publisher: ConfirmChannel; consumer: Channel; binders: readonly Channel[] },
  ) {
    this.node = node;
    this.#settings = settings;
    this.#events = events;
    this.#model = model;
    this.#publisher = channels.publisher;
    this.#consumer = channels.consumer;
    this.#binders = channels.binders;
    this.#acks = new AckBatcher(channels.consumer);
    this.#closed = new Promise((resolve) => {
      this.#onClosed = resolve;
    });
  }

  /**
   * Connects to the seed node of index `seed` and declares the exchanges.
   * Rejects (with the connection closed) if any step fails.
   */
  static async open(
    settings: AmqpSettings,
    seed: number,
    events: ConnectionEvents,
  ): Promise<AmqpConnection> {
    const model = await amqpConnect(settings.urls[seed]!, {
      noDelay: true,
      timeout: CONNECT_TIMEOUT_MS,
      clientProperties: { connection_name: settings.connectionName },
    });
    guardContentHeaders(model, () => events.onUndecodableHeaders());
    coalesceWrites(model);
    // Until the connection is wired, errors only need to be kept from crashing the process.
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
      const connection = new AmqpConnection(settings.nodes[seed]!, settings, events, model, {
        publisher,
        consumer,
        binders,
      });
      connection.#watch();
      // The flags aio-pika declares by default: RabbitMQ refuses a redeclaration with others.
      for (const exchange of EXCHANGE_NAMES) {
        await consumer.assertExchange(settings.exchangePrefix + exchange, 'direct', {
          durable: false,
          autoDelete: false,
        });
      }
      if (connection.#isEnded) throw new Error('the connection closed while it was being set up');
      connection.#isOpened = true;
      return connection;
    } catch (error) {
      model.close().catch(() => {});
      throw error;
    }
  }

  /** Whether the connection ended (lost or closed). */
  get isEnded(): boolean {
    return this.#isEnded;
  }

  /**
   * Writes a message on the confirm channel; `confirmed` gets the broker's ack
   * (`null`) or an error. With a `messageId` it goes `mandatory`: if no queue
   * takes it, it comes back through `onReturn` (before its ack), carrying that
   * id. `headers` go in the message's header table. Returns `false` when the
   * channel's buffer is full: wait for `onDrain` before writing more. Throws
   * if the channel is closed or the properties cannot be encoded; then nothing
   * was written.
   */
  publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: Buffer,
    messageId: string | undefined,
    headers: Readonly<Record<string, string>> | undefined,
    confirmed: (error: unknown) => void,
  ): boolean {
    let options: Options.Publish = JSON_BODY;
    if (messageId !== undefined || headers !== undefined) {
      options = { contentType: 'application/json' };
      if (messageId !== undefined) {
        options.mandatory = true;
        options.messageId = messageId;
      }
      if (headers !== undefined) options.headers = headers;
    }
    return this.#publisher.publish(
      this.#settings.exchangePrefix + exchange,
      routingKey,
      body,
      options,
      confirmed,
    );
  }

  /**
   * Declares the handler's queue: not exclusive nor auto-delete, so it
   * outlives a dropped connection and keeps what arrives meanwhile;
   * `x-expires` removes it once unused that long. A classic queue is not
   * durable (as the Python original's), a quorum queue must be.
   */
  async assertQueue(): Promise<void> {
    const { queueName, queueExpiresMs, queueType } = this.#settings;
    await this.#consumer.assertQueue(queueName, {
      durable: queueType === 'quorum',
      exclusive: false,
      autoDelete: false,
      expires: queueExpiresMs,
      ...(queueType === 'quorum' ? { arguments: { 'x-queue-type': 'quorum' } } : {}),
    });
  }

  /** Deletes the handler's queue with its bindings and messages (a missing queue is fine). */
  async deleteQueue(): Promise<void> {
    await this.#consumer.deleteQueue(this.#settings.queueName);
  }

  /** Binds a key; operations on one key go on one channel, so the broker applies them in order. */
  async bind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    const { queueName, exchangePrefix } = this.#settings;
    await this.#binderOf(routingKey).bindQueue(queueName, exchangePrefix + exchange, routingKey);
  }

  async unbind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    const { queueName, exchangePrefix } = this.#settings;
    await this.#binderOf(routingKey).unbindQueue(queueName, exchangePrefix + exchange, routingKey);
  }

  /** Starts consuming the handler's queue with this prefetch; resolves to the consumer tag. */
  async consume(prefetch: number, onMessage: DeliveryHandler): Promise<string> {
    await this.#consumer.prefetch(prefetch);
    const { consumerTag } = await this.#consumer.consume(
      this.#settings.queueName,
      (message) => {
        if (message === null) {
          this.#lose(new Error('the broker cancelled the consumer (the queue was deleted)'));
          return;
        }
        onMessage(message, () => this.#acks.settle(message));
      },
      { noAck: false },
    );
    return consumerTag;
  }

  /** Stops a consumer; its unacknowledged deliveries stay with the handler until settled. */
  async cancel(consumerTag: string): Promise<void> {
    await this.#consumer.cancel(consumerTag);
  }

  /**
   * Ends the connection politely: the confirms of what was written, then
   * connection.close. At `signal`, or if that fails, the socket is reset.
   * Never rejects.
   */
  close(signal?: AbortSignal): Promise<void> {
    this.#isEnded = true;
    if (this.#closing === null) this.#closing = this.#shutdown(signal);
    return this.#closing;
  }

  /**
   * Kills the TCP connection with a reset, without a word to the broker: what
   * it had not yet got acknowledged is dropped instead of being retransmitted.
   */
  reset(): void {
    const stream = (this.#model.connection as { stream?: SocketLike }).stream;
    if (stream === undefined) return;
    // With an error: amqplib watches the socket's 'error' and 'end', not a bare destroy.
    if (typeof stream.resetAndDestroy === 'function' && stream.readyState === 'open') {
      try {
        stream.resetAndDestroy();
        // 'close' comes on a later tick; amqplib listens for 'error' and 'end' only.
        stream.once?.('close', () => stream.emit?.('error', new Error('socket reset')));
        return;
      } catch {
        // Not a plain TCP socket (TLS): destroyed below, politely.
      }
    }
    stream.destroy(new Error('socket destroyed'));
  }

  /** The binding channel of a key: always the same one for the same key. */
  #binderOf(routingKey: string): Channel {
    let hash = 0;
    for (let i = 0; i < routingKey.length; i++) {
      hash = (hash * 31 + routingKey.charCodeAt(i)) | 0;
    }
    return this.#binders[Math.abs(hash) % this.#binders.length]!;
  }

  #watch(): void {
    const model = this.#model;
    model.on('close', (error?: Error) => {
      this.#onClosed();
      this.#lose(error ?? new Error('connection closed'));
    });
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
    this.#publisher.on('return', (message: Message) => this.#events.onReturn(message));
  }

  #lose(error: Error): void {
    if (this.#isEnded) return;
    this.#isEnded = true;
    if (this.#isOpened) this.#events.onLost(new Error(messageOf(error)));
    // A channel may die alone (a 404 on publish): end the connection it leaves behind.
    void this.close(AbortSignal.timeout(LOST_CLOSE_MS));
  }

  async #shutdown(signal: AbortSignal | undefined): Promise<void> {
    const polite = (async () => {
      // Let the sends already written get their confirms rather than a "channel closed".
      await this.#publisher.waitForConfirms().catch(() => {});
      await this.#model.close();
    })();
    // amqplib never settles close() on a socket that died meanwhile: its 'close' event ends the wait.
    const graceful = Promise.race([polite, this.#closed]);
    const isClosed = await untilAborted(
      graceful.then(
        () => true,
        () => false,
      ),
      signal,
      false,
    );
    if (!isClosed) this.reset();
  }
}

interface SocketLike {
  readonly readyState?: string;
  destroy(error?: Error): void;
  resetAndDestroy?(): void;
  once?(event: string, listener: () => void): void;
  emit?(event: string, error: Error): void;
}
