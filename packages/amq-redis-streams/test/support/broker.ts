import type { AMQHandler } from '@teal/amq-core';
import {
  type AdapterCapabilities,
  type BrokerTarget,
  FaultProxy,
  probeBroker,
  randomPrefix,
  recordLogs,
  sleep,
  transportOf,
  waitFor,
} from '@teal/amq-core/testing';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { connect, type RedisStreamsConnectOptions } from '../../src/index';
import { StreamKeys } from '../../src/names';
import type { RedisStreamsTransport } from '../../src/transport';
import { HOSTILE_FRAMES } from './hostile-frames';

/** The Redis the tests use: `REDIS_URL`, as CI sets it, or a local install. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Why Redis at `REDIS_URL` cannot be used, or null: what skips a suite, visibly. */
export const unavailable = await probeBroker(REDIS_URL);

/** A client of a single server, or of a cluster. */
export type Admin = Redis | Cluster;

/** The bucket stream of a target's key, with the default bucket count the contract handlers use. */
export function streamOf(target: BrokerTarget): string {
  return new StreamKeys(target.exchangePrefix, 16).bucketStream(target.exchange, target.routingKey);
}

/** Each entry of `stream`, its id and the id its `m` names as the one before it (after the second space). */
export async function previousIds(
  admin: Admin,
  stream: string,
): Promise<{ id: string; previous: string | undefined }[]> {
  const entries = (await admin.xrange(stream, '-', '+')) as [string, string[]][];
  return entries.map(([id, fields]) => {
    const meta = fields[fields.indexOf('m') + 1];
    return { id, previous: meta?.split(' ').slice(2).join(' ') };
  });
}

/** A `SCAN MATCH` pattern for the wake streams of a target's prefix. */
function wakePattern(target: BrokerTarget): string {
  return `${new StreamKeys(target.exchangePrefix, 16).pattern.slice(0, -1)}wake:*`;
}

/**
 * The contract capabilities of the Redis (or cluster) at `nodeUrls`: dropping
 * a handler's connections, what it holds in Redis (its wake stream; its
 * bindings live only in its reader), raw entries as any Redis client would
 * add them, and hostile ones. The admin connection closes after the file.
 */
export function redisCapabilities(
  nodeUrls: readonly string[],
  cluster = false,
): AdapterCapabilities {
  let client: Admin | null = null;
  afterAll(() => client?.disconnect());
  const admin = (): Admin => {
    const port = Number(new URL(nodeUrls[0]!).port || 6379);
    client ??= cluster ? new Cluster([{ host: '127.0.0.1', port }]) : new Redis(nodeUrls[0]!);
    return client;
  };
  return {
    dropConnection: async (handler) => void (await dropConnections(handler, nodeUrls)),
    deliversAcrossReconnect: true,
    brokerResources: async (handler: AMQHandler) => {
      const { keys, handlerId } = transportOf<RedisStreamsTransport>(handler);
      const wakeStream = keys.wakeStream(handlerId);
      return (await admin().exists(wakeStream)) === 1 ? [`stream ${wakeStream}`] : [];
    },
    publishAtBroker: async (target, body) => {
      const payload = typeof body === 'string' ? body : Buffer.from(body);
      await admin().xadd(streamOf(target), '*', 'k', target.routingKey, 'b', payload);
    },
    hostileFrames: HOSTILE_FRAMES.map((frame) => ({
      name: frame.name,
      publish: (target, secret) =>
        frame.publish(
          {
            ...target,
            admin: admin(),
            stream: streamOf(target),
            wakeStreams: () => scanKeys(admin(), wakePattern(target)),
          },
          secret,
        ),
    })),
  };
}

/** What the tests of a file share; each test's handlers, proxies and prefixes go after it. */
export interface TestBed {
  /** A client of the bed's Redis, open for the whole file. */
  readonly admin: Redis;
  /** The bed's Redis. */
  readonly url: string;
  /** A fresh exchange prefix, whose keys are deleted after the test. */
  prefix(): string;
  /** A handler on the bed's Redis (a fresh prefix unless given), closed after the test. */
  connect(options?: Partial<RedisStreamsConnectOptions>): Promise<AMQHandler>;
  /** A fault proxy in front of the bed's Redis, stopped after the test. */
  proxy(): Promise<FaultProxy>;
  /**
   * A receiver bound to `state` on the bed's Redis and a sender through a new
   * fault proxy, on one prefix, their errors unreported: the URLs of the
   * callback messages the receiver got, in order.
   */
  proxiedPair(state: string, senderOptions?: Partial<RedisStreamsConnectOptions>): Promise<Pair>;
}

/** A receiver, and a sender whose connections a fault proxy carries. */
export interface Pair {
  readonly proxy: FaultProxy;
  readonly receiver: AMQHandler;
  readonly sender: AMQHandler;
  readonly seen: string[];
}

/**
 * A receiver bound to `states` that records the URLs it is handed, its errors
 * and its logs, and a sender, on a fresh prefix of `bed`.
 */
export async function watchedPair(bed: TestBed, states: readonly string[]) {
  const exchangePrefix = bed.prefix();
  const { logger, records } = recordLogs();
  const receiver = await bed.connect({ exchangePrefix, logger });
  const sender = await bed.connect({ exchangePrefix });
  const errors: unknown[] = [];
  receiver.onError = (error) => errors.push(error);
  const seen: string[] = [];
  receiver.callback = (message) => {
    if (message.kind === 'callback') seen.push(message.url);
  };
  for (const state of states) await receiver.bindCallbackState(state);
  const keys = transportOf<RedisStreamsTransport>(receiver).keys;
  return { receiver, sender, seen, errors, records, keys };
}

/** Registers the hooks of a file's tests on the Redis at `url` (a function: a server started in `beforeAll`). */
export function useTestBed(url: string | (() => string) = REDIS_URL): TestBed {
  const urlOf = () => (typeof url === 'string' ? url : url());
  let admin: Redis | null = null;
  const handlers: AMQHandler[] = [];
  const proxies: FaultProxy[] = [];
  const prefixes: string[] = [];
  beforeAll(() => {
    admin = new Redis(urlOf());
  });
  afterEach(async () => {
    await Promise.allSettled(handlers.splice(0).map((handler) => handler.close()));
    await Promise.allSettled(proxies.splice(0).map((proxy) => proxy.stop()));
    // Best effort: a test may have left its server down.
    for (const prefix of prefixes.splice(0)) {
      if (admin?.status !== 'ready') break;
      const keys = await scanKeys(admin, new StreamKeys(prefix, 1).pattern);
      if (keys.length > 0) await admin.del(...keys);
    }
  });
  afterAll(() => admin?.disconnect());
  const bed: TestBed = {
    get admin(): Redis {
      if (admin === null) throw new Error('the test bed opens its client in beforeAll');
      return admin;
    },
    get url() {
      return urlOf();
    },
    prefix() {
      const prefix = randomPrefix();
      prefixes.push(prefix);
      return prefix;
    },
    async connect({ exchangePrefix = bed.prefix(), ...options } = {}) {
      const handler = await connect({ url: urlOf(), ...options, exchangePrefix });
      handlers.push(handler);
      return handler;
    },
    async proxy() {
      const proxy = await FaultProxy.start(urlOf());
      proxies.push(proxy);
      return proxy;
    },
    async proxiedPair(state, senderOptions = {}) {
      const exchangePrefix = bed.prefix();
      const proxy = await bed.proxy();
      const receiver = await bed.connect({ exchangePrefix });
      const sender = await bed.connect({
        ...senderOptions,
        exchangePrefix,
        url: proxy.urlFor(urlOf()),
      });
      receiver.onError = sender.onError = () => {};
      const seen: string[] = [];
      receiver.callback = (message) => {
        if (message.kind === 'callback') seen.push(message.url);
      };
      await receiver.bindCallbackState(state);
      return { proxy, receiver, sender, seen };
    },
  };
  return bed;
}

/** Polls a condition that asks Redis, every 20 ms, until it holds; throws `what` after `timeoutMs`. */
export function pollBroker(
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  return waitFor(condition, what, timeoutMs, 20);
}

/** Every key matching `pattern`, on every master (a cluster keeps a prefix on one of them). */
export async function scanKeys(admin: Admin, pattern: string): Promise<string[]> {
  const nodes = admin instanceof Cluster ? admin.nodes('master') : [admin];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
  }
  return keys;
}

/**
 * Drops a handler's connections from Redis's side (CLIENT KILL on every node
 * listed, found by the names the handler gives its connections), as a
 * network failure would; how many it killed.
 */
export async function dropConnections(
  handler: AMQHandler,
  nodeUrls: readonly string[],
): Promise<number> {
  const { command, reader } = transportOf<RedisStreamsTransport>(handler).connectionNames;
  // Kill live connections, not ones still coming back from an earlier kill (a cluster
  // client reconnects to a node only when it next sends it a command).
  await waitFor(() => handler.isConnected, 'the handler to be connected', 30_000);
  const deadline = Date.now() + 30_000;
  while (true) {
    let killed = 0;
    for (const url of nodeUrls) {
      const admin = new Redis(url, { maxRetriesPerRequest: 1 });
      try {
        killed += await killConnectionsNamed(admin, [command, reader]);
      } finally {
        admin.disconnect();
      }
    }
    if (killed > 0) return killed;
    if (Date.now() > deadline) throw new Error('found no connection of the handler to kill');
    await sleep(20);
  }
}

/** Kills, server-side, every connection of `client`'s server whose name is in `names`; how many it killed. */
async function killConnectionsNamed(client: Redis, names: readonly string[]): Promise<number> {
  const list = (await client.client('LIST')) as string;
  let killed = 0;
  for (const line of list.split('\n')) {
    const fields = Object.fromEntries(
      line.split(' ').map((pair) => pair.split('=', 2) as [string, string]),
    );
    if (fields.id !== undefined && names.includes(fields.name ?? '')) {
      killed += Number(await client.client('KILL', 'ID', fields.id));
    }
  }
  return killed;
}
