import type { AMQExchangeName, TransportContext } from '@teal/amq-core/adapter';
import type { AmqpConnection } from './connection';
import { Consumer } from './consumer';
import type { AmqpSettings } from './settings';

type Binding = readonly [AMQExchangeName, string];

function idOf(exchange: AMQExchangeName, routingKey: string): string {
  return `${exchange}\u0000${routingKey}`;
}

/**
 * Bindings with the number of the last bind sent for each, by exchange then
 * key: a handler may hold thousands, and none costs a string of its own.
 */
class Stamps {
  readonly #byExchange = new Map<AMQExchangeName, Map<string, number>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(exchange: AMQExchangeName, routingKey: string): number | undefined {
    return this.#byExchange.get(exchange)?.get(routingKey);
  }

  set(exchange: AMQExchangeName, routingKey: string, stamp: number): void {
    let keys = this.#byExchange.get(exchange);
    if (keys === undefined) {
      keys = new Map();
      this.#byExchange.set(exchange, keys);
    }
    if (!keys.has(routingKey)) this.#size++;
    keys.set(routingKey, stamp);
  }

  delete(exchange: AMQExchangeName, routingKey: string): void {
    const keys = this.#byExchange.get(exchange);
    if (keys === undefined || !keys.delete(routingKey)) return;
    this.#size--;
    if (keys.size === 0) this.#byExchange.delete(exchange);
  }

  clear(): void {
    this.#byExchange.clear();
    this.#size = 0;
  }

  /** Every binding, as a copy: the caller may change the stamps meanwhile. */
  bindings(): Binding[] {
    const all: Binding[] = [];
    for (const [exchange, keys] of this.#byExchange) {
      for (const routingKey of keys.keys()) all.push([exchange, routingKey]);
    }
    return all;
  }
}

/**
 * The handler's queue on the broker and its bindings, across connections.
 *
 * The queue exists only while the handler has bindings: declared at the
 * first bind, deleted `queueLingerMs` after the last unbind (so a send-only
 * handler has none), and by `x-expires` if the handler dies. It outlives a
 * lost connection, bindings included, so what the broker holds may differ
 * from what core has: every binding that may be on the broker is tracked —
 * from before its bind is sent until an unbind is confirmed or the queue
 * deleted — and each new connection makes the broker's bindings equal core's,
 * removing those core dropped meanwhile.
 */
export class HandlerQueue {
  readonly #settings: AmqpSettings;
  readonly #context: TransportContext;
  readonly #consumer: Consumer;
  /** Bindings that may exist on the broker, each with the number of the last bind sent for it. */
  readonly #mayBeBound = new Stamps();
  #stamp = 0;
  /** The queue may exist on the broker: declared, and not deleted since. */
  #mayExist = false;
  /** The connection the queue was declared on, if it still is the current one. */
  #declaredOn: AmqpConnection | null = null;
  #connection: AmqpConnection | null = null;
  #linger: NodeJS.Timeout | null = null;
  /** Queue-wide operations (declare, delete, reconcile), one after the other. */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(settings: AmqpSettings, context: TransportContext) {
    this.#settings = settings;
    this.#context = context;
    this.#consumer = new Consumer(settings, context, (operation) => this.#serialize(operation));
  }

  /**
   * Makes a new connection's broker state equal core's bindings before the
   * connection is used: the queue declared, bound to each key core has and to
   * no other, and consumed — or deleted if core has no key.
   */
  attach(connection: AmqpConnection): Promise<void> {
    this.#connection = connection;
    this.#declaredOn = null;
    this.#consumer.detach();
    this.#cancelLinger();
    return this.#serialize(async () => {
      const wanted = new Map<string, Binding>();
      for (const binding of this.#context.bindings()) wanted.set(idOf(...binding), binding);
      if (wanted.size === 0) {
        if (this.mayExist) await this.#delete(connection);
        return;
      }
      await this.#declare(connection);
      const work: Promise<void>[] = [];
      for (const binding of this.#mayBeBound.bindings()) {
        if (!wanted.has(idOf(...binding))) work.push(this.#unbindOn(connection, ...binding));
      }
      for (const binding of wanted.values()) work.push(this.#bindOn(connection, ...binding));
      await Promise.all(work);
      await this.#consumer.start(connection);
    });
  }

  /** The connection is gone: the queue and its bindings stay on the broker until the next one. */
  detach(): void {
    this.#connection = null;
    this.#declaredOn = null;
    this.#consumer.detach();
    this.#cancelLinger();
  }

  /** Binds a key on the current connection, declaring the queue first if it has to. */
  async bind(
    connection: AmqpConnection,
    exchange: AMQExchangeName,
    routingKey: string,
  ): Promise<void> {
    this.#cancelLinger();
    if (this.#declaredOn !== connection) {
      await this.#serialize(async () => {
        if (this.#declaredOn === connection) return;
        await this.#declare(connection);
        await this.#consumer.start(connection);
      });
    }
    await this.#bindOn(connection, exchange, routingKey);
  }

  /**
   * Unbinds a key. Without a connection, nothing is sent: the binding stays
   * tracked, and the next connection removes it.
   */
  async unbind(
    connection: AmqpConnection | null,
    exchange: AMQExchangeName,
    routingKey: string,
  ): Promise<void> {
    if (connection !== null && this.#mayBeBound.get(exchange, routingKey) !== undefined) {
      await this.#unbindOn(connection, exchange, routingKey);
    }
    this.#lingerIfUnbound();
  }

  /** Unbinds whatever may be bound on the broker and core no longer has (after a late bind, a reconnection). */
  async prune(connection: AmqpConnection): Promise<void> {
    const wanted = new Set<string>();
    for (const binding of this.#context.bindings()) wanted.add(idOf(...binding));
    const work: Promise<void>[] = [];
    for (const binding of this.#mayBeBound.bindings()) {
      if (!wanted.has(idOf(...binding))) work.push(this.#unbindOn(connection, ...binding));
    }
    await Promise.all(work);
    this.#lingerIfUnbound();
  }

  /** Cancels the consumer and deletes the queue (the handler is closing). */
  async release(connection: AmqpConnection): Promise<void> {
    this.#cancelLinger();
    await this.#serialize(async () => {
      if (this.mayExist) await this.#delete(connection);
    });
  }

  /** Whether anything of the handler may be on the broker: the queue, or a binding of it. */
  get mayExist(): boolean {
    return this.#mayExist || this.#mayBeBound.size > 0;
  }

  /** What the handler believes it holds on the broker: `queue`, `consumer`, `binding` lines. */
  resources(): string[] {
    const { queueName } = this.#settings;
    const lines: string[] = [];
    if (this.#mayExist) lines.push(`queue ${queueName}`);
    if (this.#consumer.isConsuming) lines.push(`consumer ${queueName}`);
    for (const [exchange, routingKey] of this.#mayBeBound.bindings()) {
      lines.push(`binding ${exchange} ${routingKey}`);
    }
    return lines;
  }

  async #declare(connection: AmqpConnection): Promise<void> {
    this.#mayExist = true;
    await connection.assertQueue();
    this.#declaredOn = connection;
  }

  async #delete(connection: AmqpConnection): Promise<void> {
    // At once: a bind from now on declares the queue again, after this.
    if (this.#declaredOn === connection) this.#declaredOn = null;
    await this.#consumer.stop(connection);
    await connection.deleteQueue();
    this.#mayExist = false;
    this.#mayBeBound.clear();
  }

  async #bindOn(
    connection: AmqpConnection,
    exchange: AMQExchangeName,
    routingKey: string,
  ): Promise<void> {
    // Tracked before it is sent: from then on, it may be on the broker.
    this.#mayBeBound.set(exchange, routingKey, ++this.#stamp);
    await connection.bind(exchange, routingKey);
  }

  async #unbindOn(
    connection: AmqpConnection,
    exchange: AMQExchangeName,
    routingKey: string,
  ): Promise<void> {
    const sent = this.#mayBeBound.get(exchange, routingKey);
    if (sent === undefined) return;
    await connection.unbind(exchange, routingKey);
    // A bind of the key sent meanwhile went after it on the same channel: it is bound.
    if (this.#mayBeBound.get(exchange, routingKey) === sent) {
      this.#mayBeBound.delete(exchange, routingKey);
    }
  }

  /** After an unbind: once core has no key left, the queue goes after `queueLingerMs`. */
  #lingerIfUnbound(): void {
    if (this.#linger !== null || !this.#mayExist || hasAny(this.#context.bindings())) return;
    this.#linger = setTimeout(() => {
      this.#linger = null;
      const connection = this.#connection;
      if (connection === null || connection.isEnded) return;
      this.#serialize(async () => {
        if (hasAny(this.#context.bindings()) || this.#connection !== connection) return;
        await this.#delete(connection);
      }).catch(() => {
        // The connection died: the next one deletes the queue if core still has no key.
      });
    }, this.#settings.queueLingerMs);
  }

  #cancelLinger(): void {
    if (this.#linger === null) return;
    clearTimeout(this.#linger);
    this.#linger = null;
  }

  #serialize(operation: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(operation, operation);
    this.#chain = next.catch(() => {});
    return next;
  }
}

function hasAny(items: Iterable<unknown>): boolean {
  for (const _ of items) return true;
  return false;
}
