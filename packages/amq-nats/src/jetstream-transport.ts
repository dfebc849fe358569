import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type Msg, nuid } from '@nats-io/transport-node';
import {
  AMQError,
  type AMQExchangeName,
  type Backlog,
  type Logger,
  type TransportContext,
} from '@teal/amq-core';
import { bindingLine, NatsTransportBase } from './base';
import { type ConsumerHost, ExchangeConsumer } from './consumer';
import type { NatsLink } from './link';
import { OrderedPublisher } from './publisher';
import { ATTEMPT_TIMEOUT_MS, asAMQError, isStreamNotFound, raceSignal, retryUntil } from './retry';
import type { NatsSettings } from './settings';
import { PrefixStream } from './stream';

const API_TIMEOUT_MS = 5_000;

/**
 * JetStream: the prefix's stream captures every subject; a send resolves on
 * the stream's acknowledgement, in call order through retries (see
 * `OrderedPublisher`). Each exchange with bound keys has one consumer (see
 * `ExchangeConsumer`) filtered locally by key, deleted with the exchange's
 * last key; a key delivers what the stream stored from the moment its bind
 * was called. The consumers stop while the backlog is full.
 */
export class JetStreamTransport extends NatsTransportBase implements ConsumerHost {
  readonly appliesBackpressure = true;
  readonly jsm: JetStreamManager;
  readonly stream: PrefixStream;
  /** Every consumer name of this handler starts with it: `teal_<unique id>_`. */
  readonly consumerPrefix = `teal_${nuid.next()}_`;
  readonly #js: JetStreamClient;
  readonly #publisher: OrderedPublisher;
  /** Per exchange, each bound key and the first stream sequence it delivers. */
  readonly #keys = new Map<AMQExchangeName, Map<string, number>>();
  readonly #consumers = new Map<AMQExchangeName, ExchangeConsumer>();
  readonly #started = new Map<ExchangeConsumer, Promise<void>>();
  /** Consumers to delete that the server could not be asked to delete yet. */
  readonly #orphans = new Set<string>();
  #serial = 0;

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
    this.#publisher = new OrderedPublisher(link, (error) => this.#repairStream(error));
    // The client restored the inboxes, but the consumers may have lost messages meanwhile.
    link.onReconnect(() => {
      for (const consumer of this.#consumers.values()) consumer.reset('reconnected');
      for (const name of this.#orphans) void this.deleteConsumer(name);
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
      const signal = AbortSignal.timeout(context.sendTimeoutMs);
      await retryUntil(link, signal, () => transport.stream.ensure());
    } catch (error) {
      throw asAMQError(error, `cannot create or read the JetStream stream ${settings.streamName}`);
    }
    return transport;
  }

  get logger(): Logger {
    return this.context.logger;
  }

  get backlog(): Backlog {
    return this.context.backlog;
  }

  reportError(error: unknown): void {
    this.context.reportError(error);
  }

  async publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    signal: AbortSignal,
  ): Promise<void> {
    const subject = this.subjectOf(exchange, routingKey);
    const limit = Math.min(this.link.maxPayload, this.stream.maxMessageSize);
    const parts = this.partsOf(body, limit);
    // Every try sends the same message ids: the stream stores each part once.
    const attempt = () =>
      Promise.all(
        parts.map((part) =>
          this.#js.publish(subject, part.data, {
            msgID: part.id,
            timeout: ATTEMPT_TIMEOUT_MS,
            ...(part.headers ? { headers: part.headers } : {}),
          }),
        ),
      );
    await this.#publisher.publish(attempt, signal);
  }

  async bind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void> {
    this.subjectOf(exchange, routingKey);
    let start: number | undefined;
    try {
      start = await retryUntil(
        this.link,
        signal,
        () => this.stream.nextSequence(),
        (error) => this.#repairStream(error),
      );
      const keys = this.#keys.get(exchange) ?? new Map<string, number>();
      this.#keys.set(exchange, keys);
      keys.set(routingKey, start);
      await raceSignal(this.#consumerOf(exchange, start), signal);
    } catch (error) {
      if (start !== undefined && this.#keys.get(exchange)?.get(routingKey) === start) {
        this.#unbindLocally(exchange, routingKey);
      }
      throw asAMQError(error, `the server did not confirm the binding on ${exchange}`);
    }
  }

  async unbind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void> {
    const stopped = this.#unbindLocally(exchange, routingKey);
    // The key is unbound here already; a consumer the server could not be asked to delete
    // is deleted after the reconnect (or by the server, idle, after 30 s): no need to fail.
    await raceSignal(stopped, signal).catch(() => {});
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

  nextConsumerName(): string {
    return `${this.consumerPrefix}${++this.#serial}`;
  }

  async deleteConsumer(name: string): Promise<void> {
    this.#orphans.add(name);
    if (!this.link.isConnected) return;
    try {
      await this.jsm.consumers.delete(this.stream.name, name);
      this.#orphans.delete(name);
    } catch (error) {
      if (isConsumerGone(error)) this.#orphans.delete(name);
    }
  }

  resources(): readonly string[] {
    const lines: string[] = [];
    for (const [exchange, keys] of this.#keys) {
      for (const key of keys.keys()) lines.push(bindingLine(exchange, key));
    }
    const names = [...this.#consumers.values()].map((consumer) => consumer.name);
    for (const name of [...names, ...this.#orphans]) {
      if (name !== '') lines.push(`consumer ${this.stream.name} ${name}`);
    }
    return lines;
  }

  protected async release(signal: AbortSignal): Promise<void> {
    const stops = [...this.#consumers.keys()].map((exchange) => this.#stopConsumer(exchange));
    this.#keys.clear();
    const orphans = [...this.#orphans].map((name) => this.deleteConsumer(name));
    await raceSignal(Promise.allSettled([...stops, ...orphans]), signal).catch(() => {});
  }

  /** Forgets the key; with the exchange's last key, stops its consumer (resolves once deleted). */
  #unbindLocally(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    const keys = this.#keys.get(exchange);
    keys?.delete(routingKey);
    if (keys !== undefined && keys.size > 0) return Promise.resolve();
    this.#keys.delete(exchange);
    return this.#stopConsumer(exchange);
  }

  #stopConsumer(exchange: AMQExchangeName): Promise<void> {
    const consumer = this.#consumers.get(exchange);
    if (consumer === undefined) return Promise.resolve();
    this.#consumers.delete(exchange);
    this.#started.delete(consumer);
    return consumer.stop();
  }

  /** The exchange's consumer, started; made on the first bind, shared by the later ones. */
  #consumerOf(exchange: AMQExchangeName, start: number): Promise<void> {
    const existing = this.#consumers.get(exchange);
    if (existing !== undefined) return this.#started.get(existing) ?? Promise.resolve();
    const consumer = new ExchangeConsumer(
      this,
      exchange,
      this.subjects.exchangeWildcard(exchange),
      start,
    );
    // Shared by every bind waiting for it, so no one call's deadline: the handler's send timeout.
    const signal = AbortSignal.timeout(this.context.sendTimeoutMs);
    const started = retryUntil(
      this.link,
      signal,
      () => consumer.start(),
      (error) => this.#repairStream(error),
    ).catch(async (error: unknown) => {
      await (this.#consumers.get(exchange) === consumer
        ? this.#stopConsumer(exchange)
        : consumer.stop());
      throw error;
    });
    this.#consumers.set(exchange, consumer);
    this.#started.set(consumer, started);
    return started;
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

/** Whether deleting a consumer failed because there is nothing to delete. */
function isConsumerGone(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // 10014: consumer not found; 10059: stream not found.
  return code === 10014 || code === 10059;
}
