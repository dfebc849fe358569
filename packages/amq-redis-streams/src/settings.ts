import {
  AMQSettingsError,
  adapterUrlOf,
  type ConnectOptions,
  flagParameter,
  type IntegerSetting,
  integerSettings,
  parseSeedUrl,
  type SeedHost,
} from '@teal/amq-core/adapter';
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
  /**
   * The URL names a Redis Cluster: one seed node or several, comma-separated
   * (`redis://h1:7001,h2:7002,h3:7003?cluster=true` does the same). Default `false`.
   */
  cluster?: boolean;
  /**
   * When `send()` resolves. `'primary'` (the default): once the master has the
   * message — a master that dies before its replicas got it loses it.
   * `'replicated'`: once at least one replica has it too (`WAIT 1`), so a
   * failover to a replica loses no resolved send. `?durability=replicated` in
   * the URL does the same.
   */
  durability?: RedisDurability;
  /**
   * Further ioredis options (TLS certificates, timeouts, `sentinelPassword`).
   * The adapter's own reconnect, queue and reply settings win, and `keyPrefix`
   * is ignored: use `exchangePrefix`.
   */
  redisOptions?: RedisOptions;
}

/** When a send resolves: once the master has it, or once a replica has it too. */
export type RedisDurability = 'primary' | 'replicated';

/** What this adapter's `connect()` takes. */
export type RedisStreamsConnectOptions = ConnectOptions & RedisStreamsOptions;

/** Validated settings, defaults filled in. */
export interface RedisStreamsSettings {
  /** The URL for ioredis (its first host), without the adapter's own query parameters. */
  readonly url: URL;
  /** Every host the URL names: the seed nodes of a cluster, the sentinels, or the one server. */
  readonly hosts: readonly SeedHost[];
  readonly cluster: boolean;
  /** The master's name for `redis+sentinel:` URLs (the URL's path), else `null`. */
  readonly sentinelMaster: string | null;
  readonly durability: RedisDurability;
  readonly exchangePrefix: string;
  readonly buckets: number;
  readonly maxLength: number;
  readonly retentionMs: number;
  readonly blockMs: number;
  readonly readCount: number;
  readonly livenessMs: number;
  readonly redisOptions: RedisOptions;
}

/** The defaults, as the README's table states them. */
export const DEFAULTS = Object.freeze({
  buckets: 16,
  maxLength: 100_000,
  retentionMs: 300_000,
  blockMs: 5_000,
  readCount: 1_000,
  livenessMs: 5_000,
  durability: 'primary' as RedisDurability,
});

/** Each integer setting: its default and bounds (an option, or a parameter of the URL's query). */
const INTEGERS = {
  buckets: [DEFAULTS.buckets, 1, 4096],
  maxLength: [DEFAULTS.maxLength, 1, Number.MAX_SAFE_INTEGER],
  retentionMs: [DEFAULTS.retentionMs, 1, Number.MAX_SAFE_INTEGER],
  blockMs: [DEFAULTS.blockMs, 1, Number.MAX_SAFE_INTEGER],
  readCount: [DEFAULTS.readCount, 1, Number.MAX_SAFE_INTEGER],
  livenessMs: [DEFAULTS.livenessMs, 1, Number.MAX_SAFE_INTEGER],
} as const satisfies Record<string, IntegerSetting>;

const SCHEMES = ['redis:', 'rediss:', 'redis+sentinel:', 'rediss+sentinel:'];
const DURABILITIES: readonly string[] = ['primary', 'replicated'] satisfies RedisDurability[];

/**
 * The URL's query and the options, checked, with errors that name the setting
 * at fault. Options given to `connect()` win over the same settings in the URL.
 * The adapter's own parameters are taken off the URL that ioredis reads.
 */
export function resolveSettings(options: RedisStreamsConnectOptions): RedisStreamsSettings {
  const { hosts, url: first } = parseSeedUrl(options.url, 'url');
  const url = adapterUrlOf(first.href, PACKAGE, SCHEMES);
  const numbers = integerSettings(PACKAGE, url, options, INTEGERS);
  const cluster = options.cluster ?? flagParameter(PACKAGE, url, 'cluster') ?? false;
  const durability = durabilityOf(options.durability, url.searchParams.get('durability'));
  for (const name of [...Object.keys(INTEGERS), 'cluster', 'durability']) {
    url.searchParams.delete(name);
  }
  const sentinelMaster = url.protocol.endsWith('+sentinel:') ? sentinelMasterOf(url) : null;
  if (sentinelMaster !== null && cluster) {
    throw new AMQSettingsError(
      'cluster',
      `[${PACKAGE}] a ${url.protocol} URL names Redis Sentinels, not a Redis Cluster: leave cluster unset`,
    );
  }
  if (hosts.length > 1 && sentinelMaster === null && !cluster) {
    throw new AMQSettingsError(
      'url',
      `[${PACKAGE}] url names ${hosts.length} hosts: add ?cluster=true for the seed nodes of a Redis Cluster, or use redis+sentinel://<sentinels>/<master name> for Sentinel`,
    );
  }
  return {
    url,
    hosts,
    cluster,
    sentinelMaster,
    durability,
    exchangePrefix: options.exchangePrefix ?? '',
    ...numbers,
    redisOptions: options.redisOptions ?? {},
  };
}

function durabilityOf(option: string | undefined, parameter: string | null): RedisDurability {
  const value = option ?? parameter ?? DEFAULTS.durability;
  if (!DURABILITIES.includes(value)) {
    const setting = option === undefined ? 'url' : 'durability';
    const where = option === undefined ? ' (the durability parameter of url)' : '';
    throw new AMQSettingsError(
      setting,
      `[${PACKAGE}] durability${where} must be primary or replicated, got ${JSON.stringify(value.slice(0, 40))}`,
    );
  }
  return value as RedisDurability;
}

/** The master's name: the first segment of a sentinel URL's path (`/teal`, or `/teal/<db>`). */
function sentinelMasterOf(url: URL): string {
  const [name = '', db, ...more] = url.pathname.replace(/^\//, '').split('/');
  if (name === '' || more.length > 0 || (db !== undefined && !/^\d{1,2}$/.test(db))) {
    throw new AMQSettingsError(
      'url',
      `[${PACKAGE}] a ${url.protocol} URL names the master in its path, and may add a database number: redis+sentinel://s1:26379,s2:26379/<master name>[/<db>]`,
    );
  }
  return decodeURIComponent(name);
}
