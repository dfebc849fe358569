import { randomBytes } from 'node:crypto';
import {
  AMQClosedError,
  type AMQExchangeName,
  type AMQHandler,
  adapterConnect,
  messageOf,
  type Transport,
  type TransportContext,
} from '@teal/amq-core/adapter';
import { BindPoints } from './bindings';
import {
  type ClientRole,
  createClient,
  describeServer,
  openClient,
  type RedisClient,
  RedisStreamsConnectionError,
  watchClient,
} from './connection';
import { CommandConnection } from './connection-command';
import { StreamReader } from './consumer';
import { WarningThrottle } from './consumer-warnings';
import { MAX_ROUTING_KEY_BYTES } from './entries';
import { StreamKeys } from './names';
import { Publisher } from './publisher';
import {
  PACKAGE,
  type RedisStreamsConnectOptions,
  type RedisStreamsSettings,
  resolveSettings,
} from './settings';

/** How long a wake stream outlives its last wake-up if its handler dies without closing. */
const WAKE_RETENTION_MS = 60_000;
/** How long the reader remembers a silent producer to drop its resent writes. */
const MIN_DUPLICATE_WINDOW_MS = 300_000;
/** How long a reader with no key left waits for a new bind before it stops and its wake stream goes. */
export const READER_LINGER_MS = 1_000;

/**
 * Connects a handler to Redis — `redis://` or `rediss://`; several seed
 * nodes and `?cluster=true` for a Redis Cluster; `redis+sentinel://` for a
 * master behind Sentinels — and resolves once its connection is up.
 */
export const connect: (options: RedisStreamsConnectOptions) => Promise<AMQHandler> = adapterConnect(
  resolveSettings,
  (settings, context) => RedisStreamsTransport.open(settings, context),
);

/**
 * The Redis Streams transport of one handler: a command connection for
 * writes and binds, and, while a key is bound, one reader connection.
 * See the package README for the key layout and its guarantees.
 */
export class RedisStreamsTransport implements Transport {
  readonly name = PACKAGE;
  readonly maxRoutingKeyBytes = MAX_ROUTING_KEY_BYTES;
  readonly appliesBackpressure = true;
  /** Random; names the handler's connections (`CLIENT LIST`) and its writes (duplicate detection). */
  readonly handlerId = randomBytes(8).toString('hex');
  readonly connectionNames: Readonly<Record<ClientRole, string>> = {
    command: `teal:${this.handlerId}:cmd`,
    reader: `teal:${this.handlerId}:reader`,
  };
  readonly keys: StreamKeys;
  readonly wakeStream: string;
  readonly #settings: RedisStreamsSettings;
  readonly #context: TransportContext;
  readonly #command: CommandConnection;
  readonly #publisher: Publisher;
  readonly #bindPoints: BindPoints;
  readonly #warnings: WarningThrottle;
  #reader: StreamReader | null = null;
  #readerClient: RedisClient | null = null;
  #isClosed = false;
  #pendingBinds = 0;
  #linger: NodeJS.Timeout | null = null;

  private constructor(settings: RedisStreamsSettings, context: TransportContext) {
    this.#settings = settings;
    this.#context = context;
    this.keys = new StreamKeys(settings.exchangePrefix, settings.buckets);
    this.wakeStream = this.keys.wakeStream(this.handlerId);
    this.#warnings = new WarningThrottle(context.logger);
    const client = createClient(settings, 'command', this.connectionNames.command);
    this.#watch(client, 'command');
    this.#command = new CommandConnection(
      client,
      // Any key of the prefix's slot: in a cluster, its node's clock judges the deadlines.
      this.wakeStream,
      settings.livenessMs / 2,
      () => this.#maybeConnected(),
    );
    this.#publisher = new Publisher({
      command: this.#command,
      context,
      settings,
      keys: this.keys,
      producer: this.handlerId,
    });
    this.#bindPoints = new BindPoints(this.#command);
  }

  /** Makes a transport whose command connection is up. */
  static async open(
    settings: RedisStreamsSettings,
    context: TransportContext,
  ): Promise<RedisStreamsTransport> {
    const transport = new RedisStreamsTransport(settings, context);
    await openClient(transport.#command.client, settings);
    try {
      // Connected means usable: the server clock measured, which the first send needs.
      await transport.#command.run(async () => {}, AbortSignal.timeout(context.sendTimeoutMs));
    } catch (error) {
      await transport.close(AbortSignal.abort());
      throw new RedisStreamsConnectionError(
        `[${PACKAGE}] Redis at ${describeServer(settings)} stopped answering once connected (${messageOf(error)})`,
        { cause: error },
      );
    }
    return transport;
  }

  /** Connected: commands go out, and the reader, if any, reads every bound key. */
  get isConnected(): boolean {
    return (
      !this.#isClosed &&
      this.#command.isUsable &&
      (this.#readerClient === null || this.#readerClient.status === 'ready')
    );
  }

  publish(...send: Parameters<Transport['publish']>): Promise<void> {
    return this.#publisher.publish(...send);
  }

  async bind(exchange: AMQExchangeName, routingKey: string, signal: AbortSignal): Promise<void> {
    const stream = this.keys.bucketStream(exchange, routingKey);
    this.#stopLingering();
    this.#pendingBinds++;
    try {
      const boundAt = await this.#bindPoints.lastId(stream, signal);
      if (this.#isClosed) throw new AMQClosedError(`[${PACKAGE}] the handler was closed`);
      await this.#openReader().add(exchange, stream, routingKey, boundAt);
    } finally {
      this.#pendingBinds--;
    }
  }

  async unbind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    // Nothing of a binding lives in Redis: the reader stops reading the key at once.
    this.#reader?.remove(this.keys.bucketStream(exchange, routingKey), routingKey);
    if (this.#reader?.cursors.isEmpty && this.#linger === null) {
      this.#linger = setTimeout(() => this.#stopIdleReader(), READER_LINGER_MS);
      this.#linger.unref();
    }
  }

  async close(signal: AbortSignal): Promise<void> {
    this.#isClosed = true;
    this.#stopLingering();
    const reader = this.#reader;
    this.#reader = null;
    this.#readerClient = null;
    await reader?.stop();
    if (this.#command.client.status === 'ready') {
      // QUIT waits for its reply: the wake stream goes before the connection does.
      this.#command.client.del(this.wakeStream).catch(() => {});
    }
    await this.#command.close(new AMQClosedError(`[${PACKAGE}] the handler was closed`), signal);
    this.#publisher.close();
  }

  /** What the handler holds in Redis: its wake stream while it reads, and (client-side only) its bindings. */
  resources(): readonly string[] {
    if (this.#reader === null) return [];
    const lines = [...this.#reader.cursors.bindings()].map(
      ([exchange, key]) => `binding ${exchange} ${key}`,
    );
    return [...lines, `stream ${this.wakeStream}`];
  }

  #stopLingering(): void {
    if (this.#linger !== null) clearTimeout(this.#linger);
    this.#linger = null;
  }

  /** Stops a reader left without keys, and deletes its wake stream: nothing of the handler stays in Redis. */
  #stopIdleReader(): void {
    this.#linger = null;
    const reader = this.#reader;
    if (reader === null || !reader.cursors.isEmpty || this.#pendingBinds > 0 || this.#isClosed) {
      return;
    }
    this.#reader = null;
    this.#readerClient = null;
    // Before any wake of a later reader on the same connection: it cannot delete that one's entries.
    const signal = AbortSignal.timeout(this.#context.sendTimeoutMs);
    this.#command
      .run(() => this.#command.client.del(this.wakeStream), signal)
      .catch(() => {
        // Unreachable Redis: the wake stream expires on its own (WAKE_RETENTION_MS).
      });
    void reader.stop();
    // A reader that was down was all that kept the handler disconnected.
    this.#maybeConnected();
  }

  #openReader(): StreamReader {
    if (this.#reader !== null) return this.#reader;
    const client = createClient(this.#settings, 'reader', this.connectionNames.reader);
    this.#watch(client, 'reader');
    // It connects, and reconnects, on its own; the first XREAD waits for it.
    client.connect().catch(() => {});
    this.#readerClient = client;
    this.#reader = new StreamReader(
      client,
      {
        wakeStream: this.wakeStream,
        blockMs: this.#settings.blockMs,
        readCount: this.#settings.readCount,
        duplicateWindowMs: Math.max(this.#settings.retentionMs, MIN_DUPLICATE_WINDOW_MS),
      },
      {
        deliver: (exchange, routingKey, body, headers) =>
          this.#context.deliver(
            headers === undefined
              ? { exchange, routingKey, body }
              : { exchange, routingKey, body, headers },
          ),
        wake: () =>
          this.#publisher.append(
            [this.wakeStream],
            1,
            WAKE_RETENTION_MS,
            // No producer nor sequence in its `m`: no reader looks at a wake entry's fields.
            ['', 'w', '1'],
            AbortSignal.timeout(this.#context.sendTimeoutMs),
            'the wake stream',
          ),
        reportError: (error) => this.#context.reportError(error),
        backlog: this.#context.backlog,
        warnings: this.#warnings,
      },
    );
    return this.#reader;
  }

  /**
   * Reports each connection's losses and returns: the handler is
   * disconnected as soon as a connection it uses drops, and connected again
   * once all are back — the reader's XREAD, sent again with the same
   * positions, is every binding restored.
   */
  #watch(client: RedisClient, role: ClientRole): void {
    watchClient(client, role, {
      settings: this.#settings,
      context: this.#context,
      isRetired: () => this.#isClosed || (role === 'reader' && client !== this.#readerClient),
      lost: (error) => this.#context.connectionChanged(false, error),
      ready: () => this.#maybeConnected(),
    });
  }

  #maybeConnected(): void {
    if (this.isConnected) this.#context.connectionChanged(true);
  }
}
