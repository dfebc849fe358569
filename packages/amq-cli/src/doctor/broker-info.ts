import { CLIENTS, ClientUnavailableError, exportOf, loadClient } from './client';

/** What the broker says about itself. */
export interface BrokerInfo {
  /** `RabbitMQ`, `Redis`, `NATS`, `PostgreSQL`. */
  readonly product: string;
  readonly version: string | null;
  /** More it told: `Erlang 26.2`, `cluster rabbit@host`, `JetStream on`. */
  readonly details: readonly string[];
  /** The broker's clock minus ours, where the broker tells the time. */
  readonly clock?: ClockReading;
}

export interface ClockReading {
  /** The broker's clock minus this machine's, in milliseconds. */
  readonly skewMs: number;
  /** Half the round trip of the reading: the skew is known within ± this. */
  readonly uncertaintyMs: number;
  /** How it was read: `Redis TIME`, `PostgreSQL clock_timestamp()`. */
  readonly source: string;
}

type Probe = (url: URL, timeoutMs: number, client: unknown) => Promise<BrokerInfo>;

/**
 * Opens one short connection with the adapter's own client library and asks
 * the broker its product, version and, where it tells it, its time. Rejects
 * with the client's error (codes included) when the broker cannot be reached
 * or refuses the credentials; with a `ClientUnavailableError` when the client
 * cannot be loaded. The URL's query (adapter settings) is not passed on.
 */
export async function brokerInfo(url: string, timeoutMs: number): Promise<BrokerInfo> {
  const parsed = new URL(url);
  const { adapter, client } = CLIENTS[parsed.protocol] ?? {};
  const probe = PROBES[parsed.protocol];
  if (adapter === undefined || client === undefined || probe === undefined) {
    throw new ClientUnavailableError(`no client for ${parsed.protocol} URLs`);
  }
  const module = await loadClient(adapter, client);
  return withDeadline(probe(parsed, timeoutMs, module), timeoutMs);
}

/** Rejects with an `ETIMEDOUT` error when `work` takes longer than `timeoutMs`. */
function withDeadline<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`timed out after ${timeoutMs} ms`) as Error & { code: string };
      error.code = 'ETIMEDOUT';
      reject(error);
    }, timeoutMs);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** The URL without its query: adapter settings mean nothing to the client. */
function withoutQuery(url: URL, keep: readonly string[] = []): string {
  const copy = new URL(url.href);
  for (const name of [...copy.searchParams.keys()]) {
    if (!keep.includes(name)) copy.searchParams.delete(name);
  }
  return copy.href;
}

/** A clock reading from a broker timestamp taken between `before` and `after` (ours, ms). */
function clockOf(brokerMs: number, before: number, after: number, source: string): ClockReading {
  return { skewMs: brokerMs - (before + after) / 2, uncertaintyMs: (after - before) / 2, source };
}

const text = (value: unknown) => (value === undefined || value === null ? null : String(value));

interface AmqpModel {
  readonly connection: { readonly serverProperties?: Record<string, unknown> };
  close(): Promise<void>;
  on(event: string, listener: (...args: unknown[]) => void): void;
}

const probeRabbitMq: Probe = async (url, timeoutMs, module) => {
  const connect = exportOf<(url: string, options: object) => Promise<AmqpModel>>(module, 'connect');
  const model = await connect(withoutQuery(url), { timeout: timeoutMs });
  model.on('error', () => {});
  try {
    const properties = model.connection.serverProperties ?? {};
    const details = [
      text(properties.platform),
      properties.cluster_name === undefined ? null : `cluster ${text(properties.cluster_name)}`,
    ].filter((detail): detail is string => detail !== null);
    return {
      product: text(properties.product) ?? 'RabbitMQ',
      version: text(properties.version),
      details,
    };
  } finally {
    await model.close().catch(() => {});
  }
};

interface RedisClient {
  connect(): Promise<void>;
  info(section: string): Promise<string>;
  time(): Promise<[string, string]>;
  disconnect(): void;
  on(event: string, listener: (...args: unknown[]) => void): void;
}

const probeRedis: Probe = async (url, timeoutMs, module) => {
  const Redis = exportOf<new (url: string, options: object) => RedisClient>(module, 'Redis');
  const client = new Redis(withoutQuery(url), {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let lastError: unknown = null;
  client.on('error', (error) => {
    lastError = error;
  });
  try {
    await client.connect().catch((error: unknown) => {
      // ioredis may reject with "Connection is closed" after the error it reported.
      throw lastError ?? error;
    });
    const info = await client.info('server');
    const field = (name: string) => new RegExp(`^${name}:([^\\r\\n]{0,200})`, 'm').exec(info)?.[1];
    const before = Date.now();
    const [seconds, micros] = await client.time();
    const after = Date.now();
    const valkey = field('valkey_version');
    const mode = field('redis_mode');
    return {
      product: valkey === undefined ? 'Redis' : 'Valkey',
      version: valkey ?? field('redis_version') ?? null,
      details: mode === undefined ? [] : [`${mode} mode`],
      clock: clockOf(Number(seconds) * 1_000 + Number(micros) / 1_000, before, after, 'Redis TIME'),
    };
  } finally {
    client.disconnect();
  }
};

interface NatsConnection {
  readonly info?: Record<string, unknown>;
  close(): Promise<void>;
}

const probeNats: Probe = async (url, timeoutMs, module) => {
  const connect = exportOf<(options: object) => Promise<NatsConnection>>(module, 'connect');
  const user = decodeURIComponent(url.username);
  const options: Record<string, unknown> = {
    servers: `${url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1'}:${url.port || '4222'}`,
    timeout: timeoutMs,
    reconnect: false,
    name: 'teal-amq doctor',
  };
  // The adapter's reading of a NATS URL: a user alone is a token.
  if (user !== '' && url.password === '') options.token = user;
  else if (user !== '') Object.assign(options, { user, pass: decodeURIComponent(url.password) });
  if (url.protocol === 'tls:') options.tls = {};
  const connection = await connect(options);
  try {
    const info = connection.info ?? {};
    const details = [
      info.server_name === undefined ? null : `server ${text(info.server_name)}`,
      info.cluster === undefined ? null : `cluster ${text(info.cluster)}`,
      `JetStream ${info.jetstream === true ? 'on' : 'off'}`,
    ].filter((detail): detail is string => detail !== null);
    return { product: 'NATS', version: text(info.version), details };
  } finally {
    await connection.close().catch(() => {});
  }
};

interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<{ rows: Array<Record<string, unknown>> }>;
  end(): Promise<void>;
  on(event: string, listener: (...args: unknown[]) => void): void;
}

const probePostgres: Probe = async (url, timeoutMs, module) => {
  const Client = exportOf<new (options: object) => PgClient>(module, 'Client');
  const client = new Client({
    connectionString: withoutQuery(url, ['sslmode']),
    connectionTimeoutMillis: timeoutMs,
    application_name: 'teal-amq doctor',
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const before = Date.now();
    const { rows } = await client.query(
      "select current_setting('server_version') as version, extract(epoch from clock_timestamp()) * 1000 as now_ms",
    );
    const after = Date.now();
    const row = rows[0] ?? {};
    return {
      product: 'PostgreSQL',
      version: text(row.version),
      details: [],
      clock: clockOf(Number(row.now_ms), before, after, 'PostgreSQL clock_timestamp()'),
    };
  } finally {
    await client.end().catch(() => {});
  }
};

const PROBES: Readonly<Record<string, Probe>> = {
  'amqp:': probeRabbitMq,
  'amqps:': probeRabbitMq,
  'redis:': probeRedis,
  'rediss:': probeRedis,
  'nats:': probeNats,
  'tls:': probeNats,
  'postgres:': probePostgres,
  'postgresql:': probePostgres,
};
