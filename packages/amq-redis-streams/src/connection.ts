import {
  AMQError,
  backoffDelay,
  messageOf,
  type SeedHost,
  type TransportContext,
} from '@teal/amq-core/adapter';
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
  const { url } = settings;
  const credentials = {
    ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
    ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
    ...(url.protocol.startsWith('rediss') ? { tls: settings.redisOptions.tls ?? {} } : {}),
  };
  if (settings.sentinelMaster !== null) {
    const db = url.pathname.split('/')[2];
    return new Redis({
      ...settings.redisOptions,
      ...shared,
      ...credentials,
      ...(db === undefined ? {} : { db: Number(db) }),
      sentinels: settings.hosts.map((host) => hostAndPort(host, 26379)),
      name: settings.sentinelMaster,
      lazyConnect: true,
      enableOfflineQueue: true,
      // Each attempt asks the sentinels where the master is: after a failover, the next one finds it.
      retryStrategy: failoverRetry,
      // A master demoted while alive (a manual failover) answers writes with READONLY: reconnect,
      // which asks the sentinels again, and resend the command.
      reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
    });
  }
  if (!settings.cluster) {
    return new Redis(url.toString(), {
      ...settings.redisOptions,
      ...shared,
      lazyConnect: true,
      enableOfflineQueue: true,
      retryStrategy: (attempt: number) => backoffDelay(attempt - 1),
    });
  }
  const cluster = new Cluster(
    settings.hosts.map((host) => hostAndPort(host, 6379)),
    {
      lazyConnect: true,
      enableOfflineQueue: true,
      enableAutoPipelining: false,
      clusterRetryStrategy: failoverRetry,
      // Node connections then reconnect and resend in order, as a single server's do, instead of
      // failing their commands to a retry queue that new commands would overtake.
      clusterNodeRetryStrategy: failoverRetry,
      redisOptions: { ...settings.redisOptions, ...shared, ...credentials },
    },
  );
  followFailovers(cluster);
  return cluster;
}

/** Retries of a cluster's or a sentinel's connections: short, as another node takes over within seconds. */
function failoverRetry(attempt: number): number {
  return backoffDelay(attempt - 1, 100, FAILOVER_RETRY_MAX_MS);
}

/** The longest wait between two attempts to reach a cluster node or a sentinel's master. */
const FAILOVER_RETRY_MAX_MS = 1_000;
/** How often a cluster client asks for the slot map while one of its node connections is down. */
const FAILOVER_POLL_MS = 500;

function hostAndPort(host: SeedHost, defaultPort: number): { host: string; port: number } {
  return {
    host: host.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: host.port === '' ? defaultPort : Number(host.port),
  };
}

/** What ioredis 6 keeps private, and following a failover needs. */
interface NodeQueues {
  flushQueue(error: Error, options?: { offlineQueue?: boolean; commandQueue?: boolean }): void;
}

/**
 * Makes a cluster client follow the failover of a master. Its node
 * connections reconnect by themselves, so that what a dropped connection had
 * in flight is resent in order; but then ioredis never learns that a master
 * died: the slots stay with the dead node and every command for them waits
 * for it for ever (delivery stopped, sends hung until their deadline). So
 * while a node connection is down, the client asks for the slot map every
 * FAILOVER_POLL_MS. Once the cluster has promoted a replica, the dead node
 * leaves the map, ioredis drops its connection from the pool, and what
 * waited on it — in flight first, then queued, so in the order it was
 * written — is failed with ioredis's "connection closed", which ioredis's
 * cluster retries on the slot's new master: the reader's XREAD with the same
 * positions, the writes with the same deadlines.
 */
function followFailovers(cluster: Cluster): void {
  const nodes = new Set<Redis>();
  const lost = new Set<Redis>();
  let poll: NodeJS.Timeout | null = null;
  const schedule = () => {
    if (poll !== null || lost.size === 0 || cluster.status === 'end') return;
    poll = setTimeout(() => {
      cluster.refreshSlotsCache(() => {
        poll = null;
        schedule();
      });
    }, FAILOVER_POLL_MS);
    poll.unref();
  };
  cluster.on('+node', (node: Redis) => {
    nodes.add(node);
    node.on('close', () => {
      lost.add(node);
      schedule();
    });
    node.on('ready', () => lost.delete(node));
    node.on('end', () => {
      nodes.delete(node);
      lost.delete(node);
    });
  });
  cluster.on('refresh', () => {
    const pool = new Set(cluster.nodes());
    for (const node of nodes) {
      if (pool.has(node)) continue;
      nodes.delete(node);
      lost.delete(node);
      if (node.status === 'end') continue;
      // ioredis disconnected it, but a connection waiting between two attempts never closes
      // again: what it holds would wait for ever.
      const closed = new Error(CONNECTION_CLOSED);
      (node as unknown as NodeQueues).flushQueue(closed, { offlineQueue: false });
      (node as unknown as NodeQueues).flushQueue(closed);
    }
  });
}

/** The message of ioredis's own error for a closed connection, which its cluster retries elsewhere. */
const CONNECTION_CLOSED = 'Connection is closed.';

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

/** The server as logs may show it: scheme and hosts, never credentials or query. */
export function describeServer(settings: RedisStreamsSettings): string {
  const hosts = settings.hosts
    .map((host) => (host.port === '' ? host.hostname : `${host.hostname}:${host.port}`))
    .join(',');
  const master = settings.sentinelMaster === null ? '' : `/${settings.sentinelMaster}`;
  return `${settings.url.protocol}//${hosts}${master}${settings.cluster ? ' (cluster)' : ''}`;
}
