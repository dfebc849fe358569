import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { Msg } from '@nats-io/transport-node';
import {
  AMQError,
  type AMQExchangeName,
  type Logger,
  type TransportContext,
} from '@teal/amq-core/adapter';
import { NatsTransportBase } from './base';
import { type ConsumerHost, ExchangeConsumer } from './consumer';
import type { NatsLink } from './link';
import { asAMQError, isStreamNotFound, retryUntil } from './retry';
import type { NatsSettings } from './settings';
import { PrefixStream } from './stream';

const API_TIMEOUT_MS = 5_000;

/**
 * JetStream: the prefix's stream captures every subject; a send resolves on
 * the stream's acknowledgement. Each exchange with bound keys has one
 * consumer (see `ExchangeConsumer`) filtered locally by key; a key delivers
 * what the stream stored from the moment its bind was called.
 */
export class JetStreamTransport extends NatsTransportBase implements ConsumerHost {
  readonly jsm: JetStreamManager;
  readonly stream: PrefixStream;
  readonly #js: JetStreamClient;
  /** Per exchange, each bound key and the first stream sequence it delivers. */
  readonly #keys = new Map<AMQExchangeName, Map<string, number>>();
  readonly #consumers = new Map<AMQExchangeName, Promise<ExchangeConsumer>>();

  private constructor(
    link: NatsLink,
    settings: NatsSettings,
    context: TransportContext,
    jsm: JetStreamManager,
  ) {
    super(link, settings, context);
    this.jsm = jsm;
    this.#js = jetstream(link.nc, { timeout: API_TIMEOUT_MS });
    this.stream = new PrefixStream(jsm, settings, this.subjects, context.logger);
    // The client restored the inboxes, but the consumers may have lost messages meanwhile.
    link.onReconnect(() => {
      for (const consumer of this.#consumers.values()) {
        consumer.then((started) => started.reset('reconnected'), ignore);
      }
    });
  }

  static async open(
    link: NatsLink,
    settings: NatsSettings,
    context: TransportContext,
  ): Promise<JetStreamTransport> {
    if (link.nc.info?.jetstream !== true) {
      throw new AMQError(
        `[@teal/amq-nats] ${settings.server} has no JetStream: start nats-server with -js, or use mode=core`,
      );
    }
    const jsm = await jetstreamManager(link.nc, { timeout: API_TIMEOUT_MS, checkAPI: false });
    const transport = new JetStreamTransport(link, settings, context, jsm);
    try {
      await retryUntil(link, Date.now() + context.sendTimeoutMs, () => transport.stream.ensure());
    } catch (error) {
      throw asAMQError(error, `cannot create or read the JetStream stream ${settings.streamName}`);
    }
    return transport;
  }

  get logger(): Logger {
    return this.context.logger;
  }

  reportError(error: unknown): void {
    this.context.reportError(error);
  }

  async publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
  ): Promise<void> {
    const subject = this.subjectOf(exchange, routingKey);
    const limit = Math.min(this.link.maxPayload, this.stream.maxMessageSize);
    const parts = this.partsOf(body, limit);
    const deadline = Date.now() + this.context.sendTimeoutMs;
    // Every try sends the same message ids: the stream stores each part once.
    await retryUntil(
      this.link,
      deadline,
      (timeout) =>
        Promise.all(
          parts.map((part) =>
            this.#js.publish(subject, part.data, {
              msgID: part.id,
              timeout,
              ...(part.headers ? { headers: part.headers } : {}),
            }),
          ),
        ),
      (error) => this.#repairStream(error),
    );
  }

  async bind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    try {
      await this.#bind(exchange, routingKey);
    } catch (error) {
      throw asAMQError(error, `the server did not confirm the binding on ${exchange}`);
    }
  }

  async #bind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    this.subjectOf(exchange, routingKey);
    const deadline = Date.now() + this.context.sendTimeoutMs;
    const start = await retryUntil(
      this.link,
      deadline,
      () => this.stream.nextSequence(),
      (error) => this.#repairStream(error),
    );
    let keys = this.#keys.get(exchange);
    if (keys === undefined) {
      keys = new Map();
      this.#keys.set(exchange, keys);
    }
    keys.set(routingKey, start);
    try {
      await this.#consumerOf(exchange, start, deadline);
    } catch (error) {
      keys.delete(routingKey);
      throw error;
    }
  }

  async unbind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    this.#keys.get(exchange)?.delete(routingKey);
  }

  receive(exchange: AMQExchangeName, msg: Msg, sequence: number): void {
    const key = this.subjects.keyOf(exchange, msg.subject);
    if (key === undefined) {
      this.context.logger.warn('dropped a message whose subject holds no routing key', {
        exchange,
      });
      return;
    }
    const start = this.#keys.get(exchange)?.get(key);
    if (start === undefined || sequence < start) return;
    this.deliver(exchange, key, msg);
  }

  rewind(exchange: AMQExchangeName, sequence: number): void {
    const keys = this.#keys.get(exchange);
    if (keys === undefined) return;
    for (const [key, start] of keys) if (start > sequence) keys.set(key, sequence);
  }

  protected async release(): Promise<void> {
    const consumers = [...this.#consumers.values()];
    this.#consumers.clear();
    const stops = consumers.map((consumer) =>
      consumer.then(
        (c) => c.stop(),
        () => {},
      ),
    );
    // Deleting consumers is a courtesy (the server drops idle ones): never hold close() long for it.
    await Promise.race([
      Promise.allSettled(stops),
      new Promise((resolve) => setTimeout(resolve, 2_000).unref()),
    ]);
  }

  #consumerOf(
    exchange: AMQExchangeName,
    start: number,
    deadline: number,
  ): Promise<ExchangeConsumer> {
    let consumer = this.#consumers.get(exchange);
    if (consumer === undefined) {
      const created = new ExchangeConsumer(
        this,
        exchange,
        this.subjects.exchangeWildcard(exchange),
        start,
      );
      consumer = retryUntil(
        this.link,
        deadline,
        () => created.start(),
        (error) => this.#repairStream(error),
      ).then(
        () => created,
        async (error: unknown) => {
          this.#consumers.delete(exchange);
          await created.stop();
          throw error;
        },
      );
      this.#consumers.set(exchange, consumer);
    }
    return consumer;
  }

  async #repairStream(error: unknown): Promise<void> {
    if (
      isStreamNotFound(error) ||
      (error instanceof Error && /no responders|not enabled/i.test(error.message))
    ) {
      await this.stream.ensure();
    }
  }
}

function ignore(): void {}
