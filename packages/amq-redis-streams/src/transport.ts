import { randomBytes } from 'node:crypto';
import {
  AMQClosedError,
  type AMQExchangeName,
  AMQSendError,
  type Transport,
  type TransportContext,
} from '@teal/amq-core';
import { untilAborted } from './abort';
import {
  type ClientRole,
  closeClient,
  createClient,
  describeServer,
  openClient,
  type RedisClient,
} from './clients';
import { PACKAGE, RedisStreamsConnectionError } from './errors';
import { ReadyGate } from './gate';
import { StreamKeys } from './keys';
import type { RedisStreamsSettings } from './options';
import { StreamReader } from './reader';
import { APPEND_SCRIPT } from './scripts';

/** How long a wake stream outlives its last wake-up; the handler deletes it when it closes. */
const WAKE_RETENTION_MS = 60_000;
/** How long the reader remembers a silent producer to drop its resent writes. */
const MIN_DUPLICATE_WINDOW_MS = 300_000;

/**
 * The Redis Streams transport of one handler: a command connection for
 * writes and binds, and, from the first bind, one reader connection.
 * See the package README for the key layout and its guarantees.
 */
export class RedisStreamsTransport implements Transport {
  readonly name = PACKAGE;
  /** Random; names the handler's connections (`CLIENT LIST`) and its writes (duplicate detection). */
  readonly handlerId = randomBytes(8).toString('hex');
  readonly connectionNames: Readonly<Record<ClientRole, string>> = {
    command: `teal:${this.handlerId}:cmd`,
    reader: `teal:${this.handlerId}:reader`,
  };
  readonly keys: StreamKeys;
  readonly #settings: RedisStreamsSettings;
  readonly #context: TransportContext;
  readonly #command: RedisClient;
  readonly #gate: ReadyGate;
  #reader: StreamReader | null = null;
  #readerClient: RedisClient | null = null;
  #sequence = 0;
  readonly #lastIds = new Map<string, Promise<string>>();
  #isClosed = false;
  #isCorked = false;
  /** Fires once the transport closes: what was in flight then must not wait for a dead connection. */
  readonly #closed = new AbortController();

  private constructor(settings: RedisStreamsSettings, context: TransportContext) {
    this.#settings = settings;
    this.#context = context;
    this.keys = new StreamKeys(settings.exchangePrefix, settings.buckets);
    this.#command = this.#createClient('command');
    this.#gate = new ReadyGate(this.#command);
  }

  /** Makes a transport whose command connection is up. */
  static async open(
    settings: RedisStreamsSettings,
    context: TransportContext,
  ): Promise<RedisStreamsTransport> {
    const transport = new RedisStreamsTransport(settings, context);
    await openClient(transport.#command, settings);
    return transport;
  }

  get isConnected(): boolean {
    return (
      !this.#isClosed &&
      this.#command.status === 'ready' &&
      (this.#readerClient === null || this.#readerClient.status === 'ready')
    );
  }

  publish(exchange: AMQExchangeName, routingKey: string, body: string | Uint8Array): Promise<void> {
    const stream = this.keys.bucketStream(exchange, routingKey);
    const payload =
      typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return this.#whenReady('send', exchange, () =>
      // The sequence is taken when the write is issued: write order is sequence order.
      // biome-ignore format: field/value pairs
      this.#append(stream, this.#settings.maxLength, this.#settings.retentionMs,
        'k', routingKey, 'p', this.handlerId, 'n', String(++this.#sequence), 'b', payload),
    );
  }

  async bind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    const stream = this.keys.bucketStream(exchange, routingKey);
    const boundAt = await this.#whenReady('bind', exchange, () => this.#lastId(stream));
    await this.#openReader().add(exchange, stream, routingKey, boundAt);
  }

  async unbind(exchange: AMQExchangeName, routingKey: string): Promise<void> {
    this.#reader?.remove(this.keys.bucketStream(exchange, routingKey), routingKey);
  }

  async close(): Promise<void> {
    this.#isClosed = true;
    const closedError = new AMQClosedError(`[${PACKAGE}] the handler was closed`);
    this.#gate.close(closedError);
    this.#closed.abort(closedError);
    await this.#reader?.stop();
    if (this.#readerClient !== null && this.#command.status === 'ready') {
      this.#command.del(this.keys.wakeStream(this.handlerId)).catch(() => {});
    }
    await closeClient(this.#command);
  }

  /** The id of the stream's last entry (`0-0` if none); binds in one tick share one XREVRANGE per stream. */
  #lastId(stream: string): Promise<string> {
    let lastId = this.#lastIds.get(stream);
    if (lastId === undefined) {
      lastId = this.#command
        .xrevrange(stream, '+', '-', 'COUNT', 1)
        .then((entries) => entries[0]?.[0] ?? '0-0');
      this.#lastIds.set(stream, lastId);
      // Shared only by binds made before the command could reach Redis.
      process.nextTick(() => this.#lastIds.delete(stream));
    }
    return lastId;
  }

  async #append(
    stream: string,
    maxLength: number,
    retentionMs: number,
    ...fields: (string | Buffer)[]
  ): Promise<void> {
    this.#coalesceWrites();
    await this.#command.eval(APPEND_SCRIPT, 1, stream, maxLength, retentionMs, ...fields);
  }

  /**
   * Holds the socket's writes until the end of the tick, so that the sends of
   * one tick leave in one write instead of a system call each. Unlike
   * ioredis's auto-pipelining, every command stays a command of its own, which
   * ioredis resends on its own after a reconnect.
   */
  #coalesceWrites(): void {
    const socket = (
      this.#command as { stream?: { cork?(): void; uncork?(): void; writable?: boolean } }
    ).stream;
    if (this.#isCorked || socket?.writable !== true || typeof socket.cork !== 'function') return;
    this.#isCorked = true;
    socket.cork();
    process.nextTick(() => {
      this.#isCorked = false;
      socket.uncork?.();
    });
  }

  #openReader(): StreamReader {
    if (this.#reader !== null) return this.#reader;
    const client = this.#createClient('reader');
    // It connects, and reconnects, on its own; the first XREAD waits for it.
    client.connect().catch(() => {});
    const wakeStream = this.keys.wakeStream(this.handlerId);
    this.#readerClient = client;
    this.#reader = new StreamReader(
      client,
      {
        wakeStream,
        blockMs: this.#settings.blockMs,
        readCount: this.#settings.readCount,
        duplicateWindowMs: Math.max(this.#settings.retentionMs, MIN_DUPLICATE_WINDOW_MS),
      },
      {
        deliver: (exchange, routingKey, body) =>
          this.#context.deliver({ exchange, routingKey, body }),
        wake: () =>
          this.#whenReady('bind', undefined, () =>
            this.#append(wakeStream, 1, WAKE_RETENTION_MS, 'w', '1'),
          ),
        reportError: (error) => this.#context.reportError(error),
      },
    );
    return this.#reader;
  }

  /** Runs a command now, or once the connection is back if that is within the send timeout. */
  #whenReady<T>(
    what: string,
    exchange: AMQExchangeName | undefined,
    operation: () => Promise<T>,
  ): Promise<T> {
    const timeoutMs = this.#context.sendTimeoutMs;
    const run = this.#gate.run(operation, timeoutMs, () => {
      const on = exchange === undefined ? '' : ` on ${exchange}`;
      const message = `[${PACKAGE}] could not ${what}${on}: no connection to Redis at ${describeServer(this.#settings)} within ${timeoutMs} ms`;
      return what === 'send' ? new AMQSendError(message) : new RedisStreamsConnectionError(message);
    });
    return untilAborted(run, this.#closed.signal);
  }

  #createClient(role: ClientRole): RedisClient {
    const client = createClient(this.#settings, role, this.connectionNames[role]);
    // One warning and at most one reported error per outage, however many retries it takes.
    let isDown = false;
    let isReported = false;
    client.on('error', (error: unknown) => {
      if (isReported || this.#isClosed) return;
      isReported = true;
      const reason = error instanceof Error ? error.message : String(error);
      this.#context.reportError(
        new RedisStreamsConnectionError(
          `[${PACKAGE}] the ${role} connection to Redis at ${describeServer(this.#settings)} failed (${reason}); reconnecting`,
          { cause: error },
        ),
      );
    });
    client.on('reconnecting', () => {
      if (isDown || this.#isClosed) return;
      isDown = true;
      this.#context.logger.warn('lost the connection to Redis; reconnecting', {
        adapter: PACKAGE,
        role,
      });
    });
    client.on('ready', () => {
      if (isDown) this.#context.logger.info('reconnected to Redis', { adapter: PACKAGE, role });
      isDown = false;
      isReported = false;
    });
    return client;
  }
}
