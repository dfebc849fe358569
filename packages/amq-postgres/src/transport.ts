import { randomBytes } from 'node:crypto';
import {
  type AMQExchangeName,
  type AMQHandler,
  AMQSendError,
  adapterConnect,
  raceSignal,
  type Transport,
  type TransportContext,
} from '@teal/amq-core/adapter';
import { BindingTable } from './bindings';
import { Link } from './connection';
import { installSchema } from './connection-schema';
import { Consumer } from './consumer';
import { applicationName, Names } from './names';
import { Publisher } from './publisher';
import { ServerClock } from './publisher-insert';
import { startSweeps } from './publisher-retention';
import {
  PACKAGE,
  type PostgresConnectOptions,
  type PostgresSettings,
  resolveSettings,
} from './settings';

/**
 * Connects a handler to PostgreSQL (`postgres://` or `postgresql://`) and
 * resolves once its first connection is up and the adapter's schema exists.
 */
export const connect: (options: PostgresConnectOptions) => Promise<AMQHandler> = adapterConnect(
  resolveSettings,
  (settings, context) => PostgresTransport.open(settings, context),
);

/**
 * The PostgreSQL transport of one handler: a command connection for sends,
 * binds and sweeps, and, from the first bind, a reader connection. See the
 * package README for the tables and their guarantees.
 */
export class PostgresTransport implements Transport {
  readonly name = PACKAGE;
  readonly appliesBackpressure = true;
  /** Random; names the handler's rows and its connections (`application_name`). */
  readonly handlerId = randomBytes(8).toString('hex');
  readonly command: Link;
  readonly reader: Link;
  readonly #context: TransportContext;
  readonly #bindings: BindingTable;
  readonly #publisher: Publisher;
  readonly #consumer: Consumer;
  readonly #stopSweeps: () => void;
  #isReaderStarted = false;
  #isClosed = false;

  private constructor(settings: PostgresSettings, context: TransportContext) {
    this.#context = context;
    const names = new Names(settings.schema);
    const clock = new ServerClock();
    let isInstalled = false;
    this.command = new Link(
      settings,
      'command',
      this.handlerId,
      {
        prepare: async (client) => {
          if (!isInstalled) await installSchema(client, names);
          isInstalled = true;
          await clock.measure(client);
          // Exactly what core holds now: binds made and unbinds missed during the outage.
          await this.#bindings.restore(client, context.bindings());
        },
        up: () => this.#changed(),
        down: (error) => this.#changed(error),
      },
      context.logger,
    );
    this.#bindings = new BindingTable(
      this.command,
      names,
      this.handlerId,
      settings.exchangePrefix,
      settings.leaseMs,
    );
    this.#publisher = new Publisher(
      this.command,
      names,
      settings,
      clock,
      context.sendTimeoutMs,
      applicationName(this.handlerId, 'command'),
    );
    this.reader = new Link(
      settings,
      'reader',
      this.handlerId,
      {
        prepare: (client) => this.#consumer.prepare(client),
        up: () => {
          this.#changed();
          this.#consumer.wake();
        },
        down: (error) => this.#changed(error),
        notified: () => this.#consumer.wake(),
      },
      context.logger,
    );
    this.#consumer = new Consumer(
      this.reader,
      names,
      settings,
      context,
      this.#bindings,
      this.handlerId,
    );
    this.#stopSweeps = startSweeps(
      this.command,
      names,
      settings,
      async () => {
        // Rows put back: what arrived meanwhile waits after the reader's cursor.
        if (await this.#bindings.renewWith(context.bindings)) this.#consumer.wake();
      },
      (error) => context.reportError(error),
    );
  }

  /** Makes a transport whose command connection is up, within the send timeout. */
  static async open(
    settings: PostgresSettings,
    context: TransportContext,
  ): Promise<PostgresTransport> {
    const transport = new PostgresTransport(settings, context);
    try {
      await transport.command.open(context.sendTimeoutMs);
    } catch (error) {
      transport.#stopSweeps();
      await transport.command.close();
      throw error;
    }
    return transport;
  }

  get isConnected(): boolean {
    return !this.#isClosed && this.command.isUp && (!this.#isReaderStarted || this.reader.isUp);
  }

  publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    signal: AbortSignal,
    headers?: Readonly<Record<string, string>>,
  ): Promise<void> {
    if (this.#isClosed)
      return Promise.reject(new AMQSendError(`[${PACKAGE}] the handler was closed`));
    return this.#publisher.publish(exchange, routingKey, body, signal, headers);
  }

  async bind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void> {
    await this.#readerListening(signal);
    await this.#bindings.change(true, exchange, routingKey, signal);
    this.#consumer.wake();
  }

  unbind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void> {
    return this.#bindings.change(false, exchange, routingKey, signal);
  }

  async close(signal: AbortSignal): Promise<void> {
    this.#isClosed = true;
    this.#stopSweeps();
    this.#consumer.stop();
    const closed = new AMQSendError(`[${PACKAGE}] the handler was closed`);
    this.#publisher.fail(closed);
    await this.reader.close(signal);
    // Its rows go now if the database answers in time; otherwise with its lease.
    if (this.command.isUp) await this.#bindings.drop(signal).catch(() => {});
    await this.command.close(signal);
  }

  resources(): readonly string[] {
    return this.#isClosed ? [] : this.#bindings.lines();
  }

  /** Resolves once the reader LISTENs: a message sent after the bind then wakes it. */
  async #readerListening(signal: AbortSignal): Promise<void> {
    if (!this.#isReaderStarted) {
      this.#isReaderStarted = true;
      this.#consumer.start();
      this.reader.start();
    }
    if (this.reader.isUp) return;
    await raceSignal(
      this.reader.run(async () => {}, signal),
      signal,
    );
  }

  #changed(error?: unknown): void {
    if (this.#isClosed) return;
    if (error !== undefined) {
      this.#context.reportError(error);
      this.#context.connectionChanged(false, error);
    } else if (this.isConnected) {
      this.#context.connectionChanged(true);
    }
  }
}
