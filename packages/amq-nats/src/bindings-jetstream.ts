import type { JetStreamManager } from '@nats-io/jetstream';
import { type Msg, nuid } from '@nats-io/transport-node';
import type { AMQExchangeName, Backlog, Logger, TransportContext } from '@teal/amq-core/adapter';
import { bindingLine } from './bindings';
import type { NatsLink } from './connection';
import { type Alarm, retryUntil } from './connection-retry';
import { type ConsumerHost, ExchangeConsumer } from './consumer-jetstream';
import type { Subjects } from './names';
import type { PrefixStream } from './stream';

/** What the pool needs of its transport. */
export interface PoolOwner {
  readonly link: NatsLink;
  readonly jsm: JetStreamManager;
  readonly stream: PrefixStream;
  readonly subjects: Subjects;
  readonly context: TransportContext;
  /** Hands a message of a bound key to the handler. */
  deliver(exchange: AMQExchangeName, routingKey: string, msg: Msg): void;
  /** Fixes what a failed JetStream request says is broken (a stream gone), before a retry. */
  repair(error: unknown): Promise<void>;
  /** Rung when the stream elects a new leader. */
  readonly newLeader: Alarm;
}

/**
 * A handler's JetStream keys and consumers: per exchange, the bound keys with
 * the first stream sequence each delivers, and one consumer while the
 * exchange has keys — deleted with its last key. Consumers the server could
 * not be asked to delete (an outage) are deleted after the next reconnect.
 */
export class ConsumerPool implements ConsumerHost {
  /** Every consumer name of the handler starts with it: `teal_<unique id>_`. */
  readonly prefix = `teal_${nuid.next()}_`;
  readonly #owner: PoolOwner;
  readonly #keys = new Map<AMQExchangeName, Map<string, number>>();
  readonly #consumers = new Map<AMQExchangeName, ExchangeConsumer>();
  readonly #started = new Map<ExchangeConsumer, Promise<void>>();
  readonly #orphans = new Set<string>();
  #serial = 0;

  constructor(owner: PoolOwner) {
    this.#owner = owner;
    // The client restored the inboxes, but the consumers may have lost messages meanwhile:
    // the handler is connected again once each one is recreated after its last sequence.
    owner.link.onReconnect(() => {
      for (const name of this.#orphans) void this.deleteConsumer(name);
      return this.resetAll('reconnected');
    });
  }

  get link(): NatsLink {
    return this.#owner.link;
  }

  get jsm(): JetStreamManager {
    return this.#owner.jsm;
  }

  get stream(): PrefixStream {
    return this.#owner.stream;
  }

  get newLeader(): Alarm {
    return this.#owner.newLeader;
  }

  get logger(): Logger {
    return this.#owner.context.logger;
  }

  get backlog(): Backlog {
    return this.#owner.context.backlog;
  }

  reportError(error: unknown): void {
    this.#owner.context.reportError(error);
  }

  /** Binds `key` from stream sequence `start` on; resolves once its exchange's consumer runs. */
  bind(exchange: AMQExchangeName, key: string, start: number): Promise<void> {
    const keys = this.#keys.get(exchange) ?? new Map<string, number>();
    this.#keys.set(exchange, keys);
    keys.set(key, start);
    return this.#consumerOf(exchange, start);
  }

  /** Unbinds `key` if it still starts at `start` (any start when omitted); see `#stop`. */
  unbind(exchange: AMQExchangeName, key: string, start?: number): Promise<void> {
    const keys = this.#keys.get(exchange);
    if (keys === undefined || (start !== undefined && keys.get(key) !== start)) {
      return Promise.resolve();
    }
    keys.delete(key);
    if (keys.size > 0) return Promise.resolve();
    this.#keys.delete(exchange);
    return this.#stop(exchange);
  }

  /** Stops every consumer; resolves once each was deleted or left for later. */
  close(): Promise<unknown> {
    this.#keys.clear();
    const stops = [...this.#consumers.keys()].map((exchange) => this.#stop(exchange));
    const orphans = [...this.#orphans].map((name) => this.deleteConsumer(name));
    return Promise.allSettled([...stops, ...orphans]);
  }

  receive(exchange: AMQExchangeName, msg: Msg, sequence: number): void {
    const key = this.#owner.subjects.keyOf(exchange, msg.subject);
    if (key === undefined) {
      this.logger.warn('dropped a message whose subject holds no routing key', { exchange });
      return;
    }
    const start = this.#keys.get(exchange)?.get(key);
    if (start === undefined || sequence < start) return;
    this.#owner.deliver(exchange, key, msg);
  }

  rewind(exchange: AMQExchangeName, sequence: number): void {
    const keys = this.#keys.get(exchange);
    if (keys === undefined) return;
    for (const [key, start] of keys) if (start > sequence) keys.set(key, sequence);
  }

  nextConsumerName(): string {
    return `${this.prefix}${++this.#serial}`;
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

  /** `binding <exchange> <key>` per bound key, `consumer <stream> <name>` per consumer. */
  resources(): string[] {
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

  /** Recreates every consumer after the last sequence it handed over. */
  resetAll(reason: string): Promise<unknown> {
    return Promise.all([...this.#consumers.values()].map((consumer) => consumer.reset(reason)));
  }

  #stop(exchange: AMQExchangeName): Promise<void> {
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
      this.#owner.subjects.exchangeWildcard(exchange),
      start,
    );
    // Shared by every bind waiting for it, so no one call's deadline: the handler's send timeout.
    const signal = AbortSignal.timeout(this.#owner.context.sendTimeoutMs);
    const started = retryUntil(
      this.link,
      signal,
      () => consumer.start(),
      (error) => this.#owner.repair(error),
    ).catch(async (error: unknown) => {
      await (this.#consumers.get(exchange) === consumer ? this.#stop(exchange) : consumer.stop());
      throw error;
    });
    this.#consumers.set(exchange, consumer);
    this.#started.set(consumer, started);
    return started;
  }
}

/** Whether deleting a consumer failed because there is nothing to delete. */
function isConsumerGone(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // 10014: consumer not found; 10059: stream not found.
  return code === 10014 || code === 10059;
}
