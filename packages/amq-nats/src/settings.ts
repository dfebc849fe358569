import { createHash } from 'node:crypto';
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import {
  AMQSettingsError,
  adapterUrlOf,
  type ConnectOptions,
  type IntegerSetting,
  integerSettings,
} from '@teal/amq-core/adapter';
import { encodeToken, isValidSubjectRoot } from './names';

/** `core`: plain NATS subscriptions, at most once. `jetstream`: a stream per prefix, resumable. */
export type NatsMode = 'core' | 'jetstream';

/** The NATS adapter's own settings; each can also be given as a URL query parameter of the same name. */
export interface NatsOptions {
  /** `core` (default) or `jetstream` (durable: messages survive a receiver's outage). */
  mode?: NatsMode;
  /** The first subject token(s) of every subject. Default `teal`. */
  subjectRoot?: string;
  /** jetstream: the stream of this prefix. Default `TEAL_<prefix token>`. */
  streamName?: string;
  /** jetstream: how long the stream keeps a message. Default 1 hour. */
  streamMaxAgeMs?: number;
  /** jetstream: how many bytes the stream keeps, oldest dropped first. Default 256 MiB. */
  streamMaxBytes?: number;
  /**
   * jetstream: how many servers hold the stream (1 to 5). Default 0: 3 when
   * the server belongs to a cluster of three or more, 1 otherwise.
   */
  streamReplicas?: number;
  /** jetstream: `file` (default: survives a server restart) or `memory`. */
  streamStorage?: 'file' | 'memory';
  /** jetstream: how long the stream recognises a retried send. Default 2 minutes (at most the max age). */
  duplicateWindowMs?: number;
  /** How long the chunks of a large message may take to arrive whole before they are dropped. Default 30 s. */
  chunkTimeoutMs?: number;
  /** The largest message body sent or reassembled. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Anything else for the NATS client (TLS files, an authenticator, more servers…). */
  connectionOptions?: Partial<NodeConnectionOptions>;
}

/** What `connect()` of `@teal/amq-nats` takes. */
export type NatsConnectOptions = ConnectOptions & NatsOptions;

/** The settings a NATS handler runs with, every default filled in. */
export interface NatsSettings {
  readonly mode: NatsMode;
  readonly subjectRoot: string;
  readonly exchangePrefix: string;
  readonly streamName: string;
  readonly streamMaxAgeMs: number;
  readonly streamMaxBytes: number;
  readonly streamReplicas: number;
  readonly streamStorage: 'file' | 'memory';
  readonly duplicateWindowMs: number;
  readonly chunkTimeoutMs: number;
  readonly maxMessageBytes: number;
  /** The server without credentials: for messages. */
  readonly server: string;
  readonly connection: NodeConnectionOptions;
}

export const PACKAGE = '@teal/amq-nats';

const MiB = 1024 * 1024;

export const DEFAULT_SUBJECT_ROOT = 'teal';
export const DEFAULT_STREAM_MAX_AGE_MS = 3_600_000;
export const DEFAULT_STREAM_MAX_BYTES = 256 * MiB;
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
export const DEFAULT_CHUNK_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * MiB;
/** A prefix token longer than this would crowd the routing key out of the control line. */
const MAX_PREFIX_TOKEN = 512;
/** Ten years: durations go to the server in nanoseconds, which must stay exact integers. */
const MAX_DURATION_MS = 10 * 365 * 86_400_000;

/** Each integer setting: its default and bounds (an option, or a parameter of the URL's query). */
const INTEGERS = {
  streamMaxAgeMs: [DEFAULT_STREAM_MAX_AGE_MS, 1, MAX_DURATION_MS],
  streamMaxBytes: [DEFAULT_STREAM_MAX_BYTES, 1, Number.MAX_SAFE_INTEGER],
  // 0: 3 on a cluster, 1 on a single server (see `replicasOf`).
  streamReplicas: [0, 0, 5],
  duplicateWindowMs: [DEFAULT_DUPLICATE_WINDOW_MS, 1, MAX_DURATION_MS],
  // A timer's longest delay.
  chunkTimeoutMs: [DEFAULT_CHUNK_TIMEOUT_MS, 1, 2_147_483_647],
  maxMessageBytes: [DEFAULT_MAX_MESSAGE_BYTES, 1, Number.MAX_SAFE_INTEGER],
} as const satisfies Record<string, IntegerSetting>;

/** The settings of `options` and its URL's query, every default filled in; a mistake is an `AMQSettingsError` naming the setting. */
export function resolveSettings(options: NatsConnectOptions): NatsSettings {
  const seeds = seedsOf(options.url);
  const url = adapterUrlOf(seeds.first, PACKAGE, ['nats:', 'tls:']);
  const servers = seeds.hosts.map((host) => hostPortOf(url.protocol, host, seeds.hosts.length));
  const numbers = integerSettings(PACKAGE, url, options, INTEGERS);
  const query = url.searchParams;
  const pick = <K extends keyof NatsOptions>(name: K): NatsOptions[K] | string | undefined =>
    options[name] ?? query.get(name) ?? undefined;

  const mode = pick('mode') ?? 'core';
  if (mode !== 'core' && mode !== 'jetstream') {
    throw new AMQSettingsError(
      'mode',
      `[${PACKAGE}] mode must be core or jetstream, got ${String(mode)}`,
    );
  }
  const subjectRoot = String(pick('subjectRoot') ?? DEFAULT_SUBJECT_ROOT);
  if (subjectRoot.length > 64 || !isValidSubjectRoot(subjectRoot)) {
    throw new AMQSettingsError(
      'subjectRoot',
      `[${PACKAGE}] subjectRoot must be at most 64 characters: dot-separated tokens of letters, digits, - and _`,
    );
  }
  const exchangePrefix = options.exchangePrefix ?? '';
  let prefixToken: string;
  try {
    prefixToken = encodeToken(exchangePrefix);
  } catch (cause) {
    throw new AMQSettingsError(
      'exchangePrefix',
      `[${PACKAGE}] exchangePrefix must be well-formed text`,
      { cause },
    );
  }
  if (prefixToken.length > MAX_PREFIX_TOKEN) {
    throw new AMQSettingsError(
      'exchangePrefix',
      `[${PACKAGE}] exchangePrefix takes ${prefixToken.length} subject characters; at most ${MAX_PREFIX_TOKEN} fit`,
    );
  }
  const streamName = String(pick('streamName') ?? defaultStreamName(prefixToken));
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(streamName)) {
    throw new AMQSettingsError(
      'streamName',
      `[${PACKAGE}] streamName must be letters, digits, - and _`,
    );
  }
  const streamStorage = pick('streamStorage') ?? 'file';
  if (streamStorage !== 'file' && streamStorage !== 'memory') {
    throw new AMQSettingsError(
      'streamStorage',
      `[${PACKAGE}] streamStorage must be file or memory`,
    );
  }
  return {
    mode,
    subjectRoot,
    exchangePrefix,
    streamName,
    streamStorage,
    ...numbers,
    duplicateWindowMs: Math.min(numbers.streamMaxAgeMs, numbers.duplicateWindowMs),
    server: `${url.protocol}//${servers.join(',')}`,
    connection: connectionOf(url, servers, options.connectionOptions),
  };
}

/** `TEAL_<prefix token>`, or a digest of the prefix where the token is too long for a name. */
export function defaultStreamName(prefixToken: string): string {
  if (prefixToken.length <= 200) return `TEAL_${prefixToken}`;
  const digest = createHash('sha256').update(prefixToken).digest('hex').slice(0, 32);
  return `TEAL_${prefixToken.slice(0, 100)}_${digest}`;
}

/**
 * Splits a URL that lists several servers (`nats://user:pw@h1:4301,h2:4302/?mode=jetstream`,
 * which URL parsers refuse) into the URL of its first server, credentials and
 * query kept, and the `host:port` of each.
 */
function seedsOf(url: string): { first: string; hosts: string[] } {
  const from = typeof url === 'string' ? url.indexOf('://') + 3 : 2;
  if (from === 2) return { first: url, hosts: [] };
  let end = url.length;
  for (const stop of ['/', '?', '#']) {
    const at = url.indexOf(stop, from);
    if (at >= 0 && at < end) end = at;
  }
  const authority = url.slice(from, end);
  const credentials = authority.slice(0, authority.lastIndexOf('@') + 1);
  const hosts = authority.slice(credentials.length).split(',');
  return { first: url.slice(0, from) + credentials + hosts[0] + url.slice(end), hosts };
}

/** `host:port` of one of the URL's `count` servers: port 4222 when it has none, 127.0.0.1 when it is alone and empty. */
function hostPortOf(protocol: string, host: string, count: number): string {
  const parsed = URL.canParse(`${protocol}//${host}`) ? new URL(`${protocol}//${host}`) : undefined;
  if (parsed?.host !== host || (host === '' && count > 1)) {
    throw new AMQSettingsError(
      'url',
      `[${PACKAGE}] url must list its servers as host:port separated by commas (nats://h1:4222,h2:4222), got ${JSON.stringify(host.slice(0, 100))}`,
    );
  }
  return `${parsed.hostname || '127.0.0.1'}:${parsed.port || '4222'}`;
}

function connectionOf(
  url: URL,
  servers: string[],
  extra: Partial<NodeConnectionOptions> | undefined,
): NodeConnectionOptions {
  const connection: NodeConnectionOptions = { servers, name: 'teal-amq' };
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  if (user !== '' && url.password === '') connection.token = user;
  else if (user !== '') Object.assign(connection, { user, pass: password });
  if (url.protocol === 'tls:') connection.tls = {};
  return { ...connection, ...extra };
}
