import { AMQSettingsError, type ConnectOptions, parseBrokerUrl } from '@teal/amq-core/adapter';
import type { RedisOptions } from 'ioredis';

/** The package name, prefixed to every message this adapter writes. */
export const PACKAGE = '@teal/amq-redis-streams';

/** The Redis Streams adapter's own options; every handler sharing a prefix must use the same `buckets`. */
export interface RedisStreamsOptions {
  /**
   * Streams per exchange and prefix; a routing key's messages go to the stream
   * `hash(key) % buckets`. More buckets: a handler with few keys reads less
   * traffic of other keys; fewer: fewer keys. Default 16. Every handler that
   * shares a prefix must use the same value.
   */
  buckets?: number;
  /** Approximate `MAXLEN` of each stream (Redis trims whole nodes, so slightly more may stay). Default 100,000. */
  maxLength?: number;
  /**
   * How long, in ms, an entry stays in its stream, and how long an unused
   * stream lives after its last write (`PEXPIRE`). A reader that reconnects
   * after a longer outage misses what is older. Default 300,000 (5 min).
   */
  retentionMs?: number;
  /** The `BLOCK` timeout of the reader's `XREAD`, in ms; binds wake the reader before it. Default 5,000. */
  blockMs?: number;
  /** Entries read per stream per `XREAD` (`COUNT`), at most; fewer when the handler's backlog has less room. Default 1,000. */
  readCount?: number;
  /**
   * How long, in ms, a connection may leave a command unanswered (the reader:
   * beyond its `BLOCK`) before it is deemed dead, dropped and replaced; the
   * command connection sends a probe every half of it. Default 5,000.
   */
  livenessMs?: number;
  /** Connect to a Redis Cluster through the URL's node (`?cluster=true` in the URL does the same). Default `false`. */
  cluster?: boolean;
  /**
   * Further ioredis options (TLS certificates, timeouts). The adapter's own
   * reconnect, queue and reply settings win, and `keyPrefix` is ignored: use `exchangePrefix`.
   */
  redisOptions?: RedisOptions;
}

/** What this adapter's `connect()` takes. */
export type RedisStreamsConnectOptions = ConnectOptions & RedisStreamsOptions;

/** Validated settings, defaults filled in. */
export interface RedisStreamsSettings {
  /** The URL for ioredis, without the adapter's own query parameters. */
  readonly url: URL;
  readonly cluster: boolean;
  readonly exchangePrefix: string;
  readonly buckets: number;
  readonly maxLength: number;
  readonly retentionMs: number;
  readonly blockMs: number;
  readonly readCount: number;
  readonly livenessMs: number;
  readonly redisOptions: RedisOptions;
}

/** The defaults of the numeric settings, as the README's table states them. */
export const DEFAULTS = Object.freeze({
  buckets: 16,
  maxLength: 100_000,
  retentionMs: 300_000,
  blockMs: 5_000,
  readCount: 1_000,
  livenessMs: 5_000,
});

/** The numeric settings, which may also ride on the URL (`redis://host?retentionMs=60000`). */
const NUMERIC = [
  'buckets',
  'maxLength',
  'retentionMs',
  'blockMs',
  'readCount',
  'livenessMs',
] as const;
const MAX: Partial<Record<(typeof NUMERIC)[number], number>> = { buckets: 4096 };

/**
 * The URL's query and the options, checked, with errors that name the setting
 * at fault. Options given to `connect()` win over the same settings in the URL.
 */
export function resolveSettings(options: RedisStreamsConnectOptions): RedisStreamsSettings {
  const url = parseBrokerUrl(options.url, 'url');
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new AMQSettingsError(
      'url',
      `[${PACKAGE}] url must be a redis: or rediss: URL, not ${url.protocol}`,
    );
  }
  const numbers = {} as Record<(typeof NUMERIC)[number], number>;
  for (const name of NUMERIC) {
    const parameter = url.searchParams.get(name);
    url.searchParams.delete(name);
    const value = options[name] ?? (parameter === null ? DEFAULTS[name] : Number(parameter));
    const setting = options[name] === undefined && parameter !== null ? 'url' : name;
    numbers[name] = integer(setting, name, value, 1, MAX[name]);
  }
  const clusterParameter = url.searchParams.get('cluster');
  url.searchParams.delete('cluster');
  return {
    url,
    cluster: options.cluster ?? parseFlag(clusterParameter),
    exchangePrefix: options.exchangePrefix ?? '',
    ...numbers,
    redisOptions: options.redisOptions ?? {},
  };
}

function parseFlag(value: string | null): boolean {
  if (value === null || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new AMQSettingsError(
    'url',
    `[${PACKAGE}] the cluster parameter of url must be true or false`,
  );
}

function integer(
  setting: string,
  name: string,
  value: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    const where = setting === 'url' ? ` (the ${name} parameter of url)` : '';
    throw new AMQSettingsError(
      setting,
      `[${PACKAGE}] ${name}${where} must be an integer from ${min} to ${max}, got ${String(value)}`,
    );
  }
  return value;
}
