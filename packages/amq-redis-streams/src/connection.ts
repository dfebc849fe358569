import { AMQError, backoffDelay, messageOf, type TransportContext } from '@teal/amq-core/adapter';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { PACKAGE, type RedisStreamsSettings } from './settings';

/** Redis could not be reached, or the connection to it failed. */
export class RedisStreamsConnectionError extends AMQError {
  static override readonly kind: string = 'RedisStreamsConnectionError';
  override name = 'RedisStreamsConnectionError';
}

/** A connection to a Redis server or cluster. */
export type RedisClient = Redis | Cluster;

/** What one connection is for: commands (writes, binds) or the blocking reader. */
export type ClientRole = 'command' | 'reader';

/**
 * Makes a connection, not yet connected. ioredis reconnects by itself with
 * the core backoff and resends, in order, every command that had no reply;
 * the command connection gives up on a command after 20 failed reconnects,
 * the reader never (it waits for the server with its XREAD). A connection
 * that leaves a command unanswered for `livenessMs` (the reader: its BLOCK
 * time on top) is deemed dead — a half-open link, a server that vanished —
 * and replaced, its unanswered commands resent on the new one.
 */
export function createClient(
  settings: RedisStreamsSettings,
  role: ClientRole,
  name: string,
): RedisClient {
  const shared = {
    connectionName: name,
    // The reader parses XREAD replies in their RESP2 shape, whichever protocol ioredis speaks.
    replyMapping: 'legacy',
    // XREAD replies name streams in full; isolation comes from the exchange prefix instead.
    keyPrefix: '',
    // A half-answered auto-pipeline is failed on a lost connection, not resent; single commands
    // (still pipelined on the wire) are all resent, in order, which exactly-once delivery needs.
    enableAutoPipelining: false,
    autoResendUnfulfilledCommands: true,
    // The round trip of the ready check is when writes abandoned meanwhile are disarmed, before
    // ioredis sends them again.
    enableReadyCheck: true,
    maxRetriesPerRequest: role === 'reader' ? null : 20,
    socketTimeout: role === 'reader' ? settings.blockMs + settings.livenessMs : settings.livenessMs,
  } as const satisfies RedisOptions;
  const retryStrategy = (attempt: number) => backoffDelay(attempt - 1);
  if (!settings.cluster) {
    return new Redis(settings.url.toString(), {
      ...settings.redisOptions,
      ...shared,
      lazyConnect: true,
      enableOfflineQueue: true,
      retryStrategy,
    });
  }
  const { url } = settings;
  return new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
    lazyConnect: true,
    enableOfflineQueue: true,
    enableAutoPipelining: false,
    clusterRetryStrategy: retryStrategy,
    // Node connections then reconnect and resend in order, as a single server's do, instead of
    // failing their commands to a retry queue that new commands would overtake.
    clusterNodeRetryStrategy: retryStrategy,
    redisOptions: {
      ...settings.redisOptions,
      ...shared,
      ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
      ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
      ...(url.protocol === 'rediss:' ? { tls: settings.redisOptions.tls ?? {} } : {}),
    },
  });
}

/** What watching a connection reports to. */
export interface ClientWatch {
  readonly settings: RedisStreamsSettings;
  readonly context: TransportContext;
  /** Whether the handler closes, or this connection is no longer used: its troubles are nobody's. */
  isRetired(): boolean;
  /** The connection closed: ioredis is reconnecting it. */
  lost(error: RedisStreamsConnectionError): void;
  /** The connection is up (again). */
  ready(): void;
}

/**
 * Watches one connection: one warning and at most one reported error per
 * outage, however many retries it takes, and each loss and return for the
 * handler's connection events.
 */
export function watchClient(client: RedisClient, role: ClientRole, watch: ClientWatch): void {
  const { context } = watch;
  const server = describeServer(watch.settings);
  let isDown = false;
  let isReported = false;
  let lastError: unknown;
  client.on('error', (error: unknown) => {
    lastError = error;
    if (isReported || watch.isRetired()) return;
    isReported = true;
    context.reportError(
      new RedisStreamsConnectionError(
        `[${PACKAGE}] the ${role} connection to Redis at ${server} failed (${messageOf(error)}); reconnecting`,
        { cause: error },
      ),
    );
  });
  client.on('close', () => {
    if (watch.isRetired()) return;
    // A connection killed server-side closes without an error.
    const reason = lastError === undefined ? '' : ` (${messageOf(lastError)})`;
    watch.lost(
      new RedisStreamsConnectionError(
        `[${PACKAGE}] lost the ${role} connection to Redis at ${server}${reason}; reconnecting`,
        lastError === undefined ? undefined : { cause: lastError },
      ),
    );
  });
  client.on('reconnecting', () => {
    if (isDown || watch.isRetired()) return;
    isDown = true;
    context.logger.warn('lost the connection to Redis; reconnecting', { adapter: PACKAGE, role });
  });
  client.on('ready', () => {
    if (isDown) context.logger.info('reconnected to Redis', { adapter: PACKAGE, role });
    isDown = false;
    isReported = false;
    lastError = undefined;
    if (!watch.isRetired()) watch.ready();
  });
}

/** Connects, or rejects with an error that names the server but never its password. */
export async function openClient(
  client: RedisClient,
  settings: RedisStreamsSettings,
): Promise<void> {
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    throw new RedisStreamsConnectionError(
      `[${PACKAGE}] could not connect to Redis at ${describeServer(settings)} (${messageOf(error)}): check url and that Redis runs`,
      { cause: error },
    );
  }
}

/**
 * Closes politely (QUIT, after the replies in flight), or drops the
 * connection after `timeoutMs` or once `signal` fires.
 */
export async function closeClient(
  client: RedisClient,
  signal?: AbortSignal,
  timeoutMs = 2_000,
): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready' || signal?.aborted) {
    client.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  let stopWaiting: () => void = () => {};
  // A connection that drops meanwhile keeps QUIT for its next life: stop waiting when it closes.
  const closedOrTimedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    stopWaiting = resolve;
    client.once('close', stopWaiting);
    signal?.addEventListener('abort', stopWaiting, { once: true });
  });
  try {
    await Promise.race([client.quit().catch(() => undefined), closedOrTimedOut]);
  } finally {
    clearTimeout(timer);
    client.off('close', stopWaiting);
    signal?.removeEventListener('abort', stopWaiting);
    client.disconnect();
  }
}

/** The server as logs may show it: scheme, host and port, never credentials or query. */
export function describeServer(settings: RedisStreamsSettings): string {
  return `${settings.url.protocol}//${settings.url.host}${settings.cluster ? ' (cluster)' : ''}`;
}
