import { randomBytes } from 'node:crypto';
import { adapterPackageOf, parseBrokerUrl } from '@teal/amq-core';
import {
  DemoConfigError,
  type Env,
  readChoice,
  readHttpUrl,
  readInteger,
  readTrustProxy,
  type TrustProxy,
} from './config-readers';

export { DemoConfigError } from './config-readers';

/** Which half of TeaL this process runs. */
export type Role = 'listener' | 'dispatcher' | 'both';

/** Everything the demo reads from its environment and command line. */
export interface DemoConfig {
  readonly role: Role;
  /** The broker URL; its scheme picks the adapter (`memory://` is built in). */
  readonly amqpUrl: string;
  readonly exchangePrefix: string;
  readonly host: string;
  /** `0` picks a free port. */
  readonly port: number;
  /** The password of `anonymous` on `GET /ws`. */
  readonly dispatcherPassword: string;
  /** Whether the password was generated at start (and must be printed). */
  readonly isPasswordGenerated: boolean;
  /** The largest request body the listener takes; larger ones get 413. */
  readonly bodyLimitBytes: number;
  /** How many keys one WebSocket may wait on at once. */
  readonly maxRegistrationsPerSocket: number;
  /** On SIGTERM, how long the handler may take to hand over what it already received. */
  readonly drainTimeoutMs: number;
  /** Where `/callback` redirects once the message is sent; a plain page when unset. */
  readonly callbackRedirectUrl: string | null;
  /** The listener's public base URL, for the page's links when the listener runs apart. */
  readonly listenerUrl: string | null;
  /** Which peers may set `X-Forwarded-*` (Fastify's `trustProxy`). */
  readonly trustProxy: TrustProxy;
  readonly logLevel: string;
  /** The total time a request may take, from its headers to its answer. */
  readonly requestTimeoutMs: number;
  /** The largest request head (request line and headers). */
  readonly headerLimitBytes: number;
  /** The largest frame a WebSocket client may send. */
  readonly maxFrameBytes: number;
  /** How many WebSockets the dispatcher holds at once. */
  readonly maxWebSockets: number;
  /** How many connections one client address may hold at once; 0 for no cap. */
  readonly maxConnectionsPerIp: number;
  /** How many listener requests one client address may make per minute; 0 for no limit. */
  readonly rateLimitPerMinute: number;
  /** After SIGTERM or SIGINT, the deadline for the process to exit. */
  readonly shutdownTimeoutMs: number;
}

const ROLES: readonly Role[] = ['listener', 'dispatcher', 'both'];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads and checks the configuration; throws `DemoConfigError` naming the bad variable. */
export function readConfig(env: Env, argv: readonly string[] = []): DemoConfig {
  const password = env.DISPATCHER_PASSWORD;
  if (password !== undefined && password === '') {
    throw new DemoConfigError('DISPATCHER_PASSWORD', 'is empty: unset it to get a generated one');
  }
  return {
    role: readRole(argv),
    amqpUrl: readBrokerUrl(env.AMQP_URL || 'memory://'),
    exchangePrefix: env.AMQP_EXCHANGE_PREFIX ?? '',
    host: env.HOST || '127.0.0.1',
    port: readInteger(env, 'PORT', 8080, 0, 65_535),
    dispatcherPassword: password ?? randomBytes(18).toString('base64url'),
    isPasswordGenerated: password === undefined,
    bodyLimitBytes: readInteger(env, 'BODY_LIMIT_BYTES', 1_048_576, 1, 64 * 1_048_576),
    maxRegistrationsPerSocket: readInteger(env, 'DISPATCHER_MAX_REGISTRATIONS', 100, 1, 100_000),
    drainTimeoutMs: readInteger(env, 'DRAIN_TIMEOUT_MS', 10_000, 0, 600_000),
    callbackRedirectUrl: readHttpUrl(env, 'CALLBACK_REDIRECT_URL'),
    listenerUrl: readHttpUrl(env, 'LISTENER_URL')?.replace(/\/+$/, '') ?? null,
    trustProxy: readTrustProxy(env, 'TRUST_PROXY'),
    logLevel: readChoice(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    requestTimeoutMs: readInteger(env, 'REQUEST_TIMEOUT_MS', 30_000, 1_000, 600_000),
    headerLimitBytes: readInteger(env, 'HEADER_LIMIT_BYTES', 16_384, 1_024, 1_048_576),
    maxFrameBytes: readInteger(env, 'WS_MAX_FRAME_BYTES', 65_536, 1_024, 16 * 1_048_576),
    maxWebSockets: readInteger(env, 'MAX_WEBSOCKETS', 10_000, 1, 1_000_000),
    maxConnectionsPerIp: readInteger(env, 'MAX_CONNECTIONS_PER_IP', 256, 0, 1_000_000),
    rateLimitPerMinute: readInteger(env, 'RATE_LIMIT_PER_MINUTE', 600, 0, 10_000_000),
    shutdownTimeoutMs: readInteger(env, 'SHUTDOWN_TIMEOUT_MS', 30_000, 1_000, 600_000),
  };
}

function readRole(argv: readonly string[]): Role {
  let role: string = 'both';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--role') {
      role = argv[++i] ?? '';
    } else if (arg.startsWith('--role=')) {
      role = arg.slice('--role='.length);
    } else {
      throw new DemoConfigError('argument', `${arg} is unknown: the only option is --role`);
    }
  }
  if (!ROLES.includes(role as Role)) {
    throw new DemoConfigError('--role', `must be listener, dispatcher or both, not "${role}"`);
  }
  return role as Role;
}

function readBrokerUrl(url: string): string {
  let protocol: string;
  try {
    protocol = parseBrokerUrl(url, 'AMQP_URL').protocol;
  } catch {
    throw new DemoConfigError(
      'AMQP_URL',
      'is not a valid URL (example: amqp://guest:guest@127.0.0.1:5672)',
    );
  }
  if (protocol !== 'memory:' && adapterPackageOf(protocol) === undefined) {
    throw new DemoConfigError(
      'AMQP_URL',
      `has the unsupported scheme ${protocol}: use memory:, amqp:, amqps:, redis:, rediss:, nats: or tls:`,
    );
  }
  return url;
}
