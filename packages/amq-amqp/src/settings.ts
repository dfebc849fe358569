import { randomBytes } from 'node:crypto';
import { AMQSettingsError, type ConnectOptions, parseBrokerUrl } from '@teal/amq-core/adapter';
import { connectionNameOf, queueNameOf } from './names';

/**
 * What `connect()` of `@teal/amq-amqp` takes: core's options plus the RabbitMQ
 * settings. Each but `heartbeatSeconds` may instead be a query parameter of
 * the URL (`amqp://host?prefetch=64`), `heartbeatSeconds` its `heartbeat`
 * parameter; an option given in code wins.
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
}

/** The validated settings of one handler's transport. */
export interface AmqpSettings {
  /** The URL amqplib connects to, heartbeat included: it may hold a password, never log it. */
  readonly url: string;
  /** The URL as the user gave it, for messages (always through `redactUrl`). */
  readonly givenUrl: string;
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
/** The query parameters that are this adapter's settings, not amqplib's. */
const OWN_PARAMETERS = [
  'queueExpiresMs',
  'prefetch',
  'connectionName',
  'queueLingerMs',
  'reconnectGraceMs',
];

/**
 * Checks the options and derives the names of the handler's queue and
 * connection. `queueExpiresMs`, `prefetch`, `connectionName`, `queueLingerMs`
 * and `reconnectGraceMs` may also be URL query parameters (so `AMQP_URL`
 * alone can carry them); options win.
 */
export function resolveSettings(options: AmqpConnectOptions): AmqpSettings {
  const url = parseBrokerUrl(options.url, 'url');
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') {
    throw new AMQSettingsError(
      'url',
      `[@teal/amq-amqp] url must be an amqp: or amqps: URL, not ${url.protocol}`,
    );
  }
  const query = url.searchParams;
  const heartbeat = options.heartbeatSeconds;
  if (heartbeat !== undefined) {
    query.set('heartbeat', String(integer('heartbeatSeconds', heartbeat, 0, 65_535)));
  } else if (query.has('heartbeat')) {
    integer('heartbeat', Number(query.get('heartbeat')), 0, 65_535);
  } else {
    query.set('heartbeat', String(DEFAULT_HEARTBEAT_SECONDS));
  }
  const queueExpiresMs = options.queueExpiresMs ?? fromQuery(query, 'queueExpiresMs');
  const prefetch = options.prefetch ?? fromQuery(query, 'prefetch');
  const queueLingerMs = options.queueLingerMs ?? fromQuery(query, 'queueLingerMs');
  const reconnectGraceMs = options.reconnectGraceMs ?? fromQuery(query, 'reconnectGraceMs');
  const appName = options.connectionName ?? query.get('connectionName') ?? DEFAULT_CONNECTION_NAME;
  // amqplib reads the query too: it gets only what it knows.
  for (const name of OWN_PARAMETERS) query.delete(name);
  if (typeof appName !== 'string' || appName === '') {
    throw new AMQSettingsError(
      'connectionName',
      '[@teal/amq-amqp] connectionName must be a non-empty string',
    );
  }
  const exchangePrefix = options.exchangePrefix ?? '';
  const handlerId = randomBytes(6).toString('hex');
  return {
    url: url.toString(),
    givenUrl: options.url,
    exchangePrefix,
    handlerId,
    queueName: queueNameOf(exchangePrefix, handlerId),
    connectionName: connectionNameOf(appName, exchangePrefix, handlerId),
    queueExpiresMs: integer(
      'queueExpiresMs',
      queueExpiresMs ?? DEFAULT_QUEUE_EXPIRES_MS,
      1,
      2 ** 31 - 1,
    ),
    prefetch: integer('prefetch', prefetch ?? DEFAULT_PREFETCH, 1, 65_535),
    queueLingerMs: integer('queueLingerMs', queueLingerMs ?? DEFAULT_QUEUE_LINGER_MS, 0, 3_600_000),
    reconnectGraceMs: integer(
      'reconnectGraceMs',
      reconnectGraceMs ?? DEFAULT_RECONNECT_GRACE_MS,
      0,
      3_600_000,
    ),
  };
}

function fromQuery(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  return text === null ? undefined : text.trim() === '' ? Number.NaN : Number(text);
}

function integer(setting: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AMQSettingsError(
      setting,
      `[@teal/amq-amqp] ${setting} must be an integer from ${min} to ${max}, got ${String(value)}`,
    );
  }
  return value;
}
