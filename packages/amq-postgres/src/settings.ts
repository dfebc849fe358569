import {
  AMQSettingsError,
  adapterUrlOf,
  type ConnectOptions,
  type IntegerSetting,
  integerSettings,
} from '@teal/amq-core/adapter';

export const PACKAGE = '@teal/amq-postgres';

/**
 * TLS options handed to Node's `tls.connect()` (a subset, so that the types
 * need no Node declarations): certificates in PEM.
 */
export interface PostgresTlsOptions {
  readonly rejectUnauthorized?: boolean;
  readonly ca?: string | string[];
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
}

/** The PostgreSQL adapter's own options; each numeric one may also ride on the URL's query. */
export interface PostgresOptions {
  /**
   * The schema that holds the adapter's tables, created on first use when
   * missing (the role needs CREATE on the database then). Every handler that
   * shares a prefix must use the same schema. Default `teal_amq`.
   */
  schema?: string;
  /** How long, in ms, a message stays in its table: a reader away longer misses it. Default 300,000 (5 min). */
  retentionMs?: number;
  /** The most messages a prefix keeps; the oldest go first. Default 100,000. */
  maxMessages?: number;
  /**
   * How long, in ms, the bindings of a handler that stopped renewing them
   * (a crashed process) stay in the database. Renewed every third of it. Default 30,000.
   */
  leaseMs?: number;
  /** How often, in ms, a reader reads even without a NOTIFY: a safety net and a liveness check. Default 5,000. */
  pollIntervalMs?: number;
  /** How long, in ms, a statement may go unanswered before its connection is taken for dead. Default 15,000. */
  livenessMs?: number;
  /** Rows one read takes at most (the backlog's room lowers it). Default 500. */
  readBatch?: number;
  /**
   * The largest body, in bytes, a send takes and a reader loads; a larger row
   * is dropped with a warning, unread. Default 64 MiB.
   */
  maxBodyBytes?: number;
  /** TLS for the connections; `sslmode=require` in the URL means `true`. Default: none. */
  ssl?: boolean | PostgresTlsOptions;
}

/** What this adapter's `connect()` takes. */
export type PostgresConnectOptions = ConnectOptions & PostgresOptions;

/** Where to connect: the URL's parts, never logged whole. */
export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
  readonly ssl: boolean | PostgresTlsOptions;
}

/** Validated settings, defaults filled in. */
export interface PostgresSettings {
  readonly server: PostgresServer;
  readonly exchangePrefix: string;
  readonly schema: string;
  readonly retentionMs: number;
  readonly maxMessages: number;
  readonly leaseMs: number;
  readonly pollIntervalMs: number;
  readonly livenessMs: number;
  readonly readBatch: number;
  readonly maxBodyBytes: number;
}

export const DEFAULTS = Object.freeze({
  schema: 'teal_amq',
  retentionMs: 300_000,
  maxMessages: 100_000,
  leaseMs: 30_000,
  pollIntervalMs: 5_000,
  livenessMs: 15_000,
  readBatch: 500,
  maxBodyBytes: 64 * 1024 * 1024,
});

/** Each integer setting: its default and bounds (an option, or a parameter of the URL's query). */
const INTEGERS = {
  retentionMs: [DEFAULTS.retentionMs, 1_000, 7 * 24 * 3_600_000],
  maxMessages: [DEFAULTS.maxMessages, 1, 1e12],
  leaseMs: [DEFAULTS.leaseMs, 1_000, 3_600_000],
  pollIntervalMs: [DEFAULTS.pollIntervalMs, 100, 3_600_000],
  livenessMs: [DEFAULTS.livenessMs, 1_000, 3_600_000],
  readBatch: [DEFAULTS.readBatch, 1, 10_000],
  // bytea holds at most 1 GB.
  maxBodyBytes: [DEFAULTS.maxBodyBytes, 1, 1_000_000_000],
} as const satisfies Record<string, IntegerSetting>;

/** A plain lowercase identifier, so that it is the same quoted or not and fits in a channel name. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,39}$/;

/**
 * Checks the options, with errors that name the setting at fault. Options
 * given to `connect()` win over the same settings in the URL's query.
 */
export function resolveSettings(options: PostgresConnectOptions): PostgresSettings {
  const url = adapterUrlOf(options.url, PACKAGE, ['postgres:', 'postgresql:']);
  const numbers = integerSettings(PACKAGE, url, options, INTEGERS);
  const schema = options.schema ?? url.searchParams.get('schema') ?? DEFAULTS.schema;
  if (!SCHEMA_NAME.test(schema)) {
    throw new AMQSettingsError(
      'schema',
      `[${PACKAGE}] schema must be a lowercase identifier of at most 40 characters (letters, digits, _), got ${JSON.stringify(schema.slice(0, 50))}`,
    );
  }
  return {
    server: serverOf(url, options.ssl),
    exchangePrefix: options.exchangePrefix ?? '',
    schema,
    ...numbers,
  };
}

function serverOf(url: URL, ssl: PostgresOptions['ssl']): PostgresServer {
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode !== null && !['disable', 'prefer', 'require', 'verify-full'].includes(sslmode)) {
    throw new AMQSettingsError(
      'url',
      `[${PACKAGE}] the sslmode parameter of url must be disable, prefer, require or verify-full`,
    );
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  return {
    host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: url.port === '' ? 5432 : Number(url.port),
    user: url.username === '' ? 'postgres' : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    database: database === '' ? 'postgres' : database,
    ssl: ssl ?? (sslmode === 'require' ? { rejectUnauthorized: false } : sslmode === 'verify-full'),
  };
}

/** The server as logs may show it: host, port and database, never credentials. */
export function describeServer(server: PostgresServer): string {
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  return `postgres://${host}:${server.port}/${server.database}`;
}
