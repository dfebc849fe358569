import { randomBytes } from 'node:crypto';
import {
  AMQSettingsError,
  type ConnectOptions,
  type IntegerSetting,
  integerSettings,
  seedUrlsOf,
} from '@teal/amq-core/adapter';
import { connectionNameOf, queueNameOf } from './names';

/**
 * What `connect()` of `@teal/amq-amqp` takes: core's options plus the RabbitMQ
 * settings. The URL may name several nodes of a cluster, comma-separated
 * (`amqp://user:pass@h1:5701,h2:5702,h3:5703/vhost`): the handler connects to
 * any that answers and moves to another when it loses its node. Each setting
 * but `heartbeatSeconds` may instead be a query parameter of the URL
 * (`amqp://host?prefetch=64`), `heartbeatSeconds` its `heartbeat` parameter;
 * an option given in code wins.
 */
export interface AmqpConnectOptions extends ConnectOptions {
  /**
   * How long, in milliseconds, the broker keeps the handler's queue once no
   * consumer uses it (`x-expires`). It bounds both how long messages sent
   * during a connection outage wait for the handler to come back, and how long
   * the queue of a handler that died without `close()` lingers. Default 60 000.
   */
  queueExpiresMs?: number;
  /** How many unacknowledged deliveries the broker sends ahead of the callback. Default 256. */
  prefetch?: number;
  /**
   * The AMQP heartbeat, in seconds; `0` turns heartbeats off. Default 10, or the
   * `heartbeat` query parameter of the URL when it has one.
   */
  heartbeatSeconds?: number;
  /**
   * The application part of the connection name shown by RabbitMQ
   * (`<connectionName>/<prefix or ->/<handler id>`). Default `teal-amqp`.
   */
  connectionName?: string;
  /**
   * How long, in milliseconds, the handler keeps its queue after its last
   * key was unbound, so that a quick unbind-bind does not delete and declare
   * it again. `0` deletes it at once. Default 1 000.
   */
  queueLingerMs?: number;
  /**
   * For how long, in milliseconds, after a reconnection a message that
   * RabbitMQ returns as unroutable (`mandatory`: no queue bound its key) is
   * published again, until it is routed, the grace ends or its send's deadline
   * is near: receivers that lost the broker too may not have bound their keys
   * again yet. `0` turns it off. Default 10 000.
   */
  reconnectGraceMs?: number;
  /**
   * The type of the handler's queue. `classic` (the default): not durable,
   * on the node the handler is connected to, as the Python original's; it is
   * lost with that node. `quorum`: replicated on the cluster's nodes (Raft),
   * so that a message RabbitMQ confirmed survives the loss of any one node;
   * durable, as quorum queues must be, and still removed when the handler
   * goes (deleted at close, `x-expires` otherwise).
   */
  queueType?: QueueType;
}

/** The queue types a handler may declare. */
export type QueueType = 'classic' | 'quorum';
const QUEUE_TYPES: readonly QueueType[] = ['classic', 'quorum'];

/** The validated settings of one handler's transport. */
export interface AmqpSettings {
  /**
   * The URLs amqplib connects to, one per seed node, heartbeat included: they
   * may hold a password, never log them.
   */
  readonly urls: readonly string[];
  /** `host:port` of each seed, in the order of `urls`: what logs and errors name. */
  readonly nodes: readonly string[];
  /** The URL as the user gave it, for messages (always through `redactUrl`). */
  readonly givenUrl: string;
  readonly queueType: QueueType;
  readonly exchangePrefix: string;
  /** Random, names the queue and the connection. */
  readonly handlerId: string;
  readonly queueName: string;
  readonly connectionName: string;
  readonly queueExpiresMs: number;
  readonly prefetch: number;
  readonly queueLingerMs: number;
  readonly reconnectGraceMs: number;
}

export const DEFAULT_QUEUE_EXPIRES_MS = 60_000;
export const DEFAULT_PREFETCH = 256;
export const DEFAULT_HEARTBEAT_SECONDS = 10;
export const DEFAULT_QUEUE_LINGER_MS = 1_000;
export const DEFAULT_RECONNECT_GRACE_MS = 10_000;
const DEFAULT_CONNECTION_NAME = 'teal-amqp';

export const PACKAGE = '@teal/amq-amqp';

/** Each integer setting: its default and bounds (an option, or a parameter of the URL's query). */
const INTEGERS = {
  queueExpiresMs: [DEFAULT_QUEUE_EXPIRES_MS, 1, 2 ** 31 - 1],
  prefetch: [DEFAULT_PREFETCH, 1, 65_535],
  queueLingerMs: [DEFAULT_QUEUE_LINGER_MS, 0, 3_600_000],
  reconnectGraceMs: [DEFAULT_RECONNECT_GRACE_MS, 0, 3_600_000],
} as const satisfies Record<string, IntegerSetting>;
const HEARTBEAT_SECONDS: IntegerSetting = [DEFAULT_HEARTBEAT_SECONDS, 0, 65_535];
/** The query parameters that are this adapter's settings, not amqplib's. */
const OWN_PARAMETERS = [...Object.keys(INTEGERS), 'connectionName', 'queueType'];
/** A URL without parameters: where an option is read alone. */
const NO_PARAMETERS = new URL('amqp://localhost');

/**
 * Checks the options and derives the names of the handler's queue and
 * connection. `queueExpiresMs`, `prefetch`, `connectionName`, `queueLingerMs`
 * and `reconnectGraceMs` may also be URL query parameters (so `AMQP_URL`
 * alone can carry them); options win.
 */
export function resolveSettings(options: AmqpConnectOptions): AmqpSettings {
  const seeds = seedUrlsOf(options.url, PACKAGE, ['amqp:', 'amqps:']);
  // The seeds share one query: the first one's stands for all.
  const url = seeds[0]!;
  const query = url.searchParams;
  const numbers = integerSettings(PACKAGE, url, options, INTEGERS);
  // The URL's parameter is amqplib's `heartbeat`; the option has a longer name.
  const { heartbeat } = integerSettings(PACKAGE, url, {}, { heartbeat: HEARTBEAT_SECONDS });
  const { heartbeatSeconds } = integerSettings(PACKAGE, NO_PARAMETERS, options, {
    heartbeatSeconds: [heartbeat, HEARTBEAT_SECONDS[1], HEARTBEAT_SECONDS[2]],
  });
  const appName = options.connectionName ?? query.get('connectionName') ?? DEFAULT_CONNECTION_NAME;
  if (typeof appName !== 'string' || appName === '') {
    throw new AMQSettingsError(
      'connectionName',
      `[${PACKAGE}] connectionName must be a non-empty string`,
    );
  }
  const queueType = queueTypeOf(options.queueType, query.get('queueType'));
  for (const seed of seeds) {
    // amqplib reads the query too: it gets only what it knows.
    for (const name of OWN_PARAMETERS) seed.searchParams.delete(name);
    seed.searchParams.set('heartbeat', String(heartbeatSeconds));
  }
  const exchangePrefix = options.exchangePrefix ?? '';
  const handlerId = randomBytes(6).toString('hex');
  return {
    urls: seeds.map(String),
    nodes: seeds.map(nodeOf),
    givenUrl: options.url,
    queueType,
    exchangePrefix,
    handlerId,
    queueName: queueNameOf(exchangePrefix, handlerId),
    connectionName: connectionNameOf(appName, exchangePrefix, handlerId),
    ...numbers,
  };
}

function queueTypeOf(option: unknown, parameter: string | null): QueueType {
  const value = option ?? parameter ?? 'classic';
  if (QUEUE_TYPES.includes(value as QueueType)) return value as QueueType;
  const where = option === undefined ? 'the queueType parameter of url' : 'queueType';
  throw new AMQSettingsError(
    option === undefined ? 'url' : 'queueType',
    `[${PACKAGE}] ${where} must be classic or quorum, got ${JSON.stringify(String(value).slice(0, 40))}`,
  );
}

/** `host:port` of a seed, the port filled in: what logs may name of a node. */
function nodeOf(seed: URL): string {
  const port = seed.port === '' ? (seed.protocol === 'amqps:' ? '5671' : '5672') : seed.port;
  return `${seed.hostname || 'localhost'}:${port}`;
}
