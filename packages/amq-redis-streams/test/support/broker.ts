import type { AMQHandler } from '@teal/amq-core';
import {
  type AdapterCapabilities,
  type BrokerTarget,
  probeBroker,
  sleep,
  transportOf,
  waitFor,
} from '@teal/amq-core/testing';
import { Cluster, Redis } from 'ioredis';
import { afterAll } from 'vitest';
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

/** Polls a condition that asks Redis until it holds; throws `what` after `timeoutMs`. */
export async function pollBroker(
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
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
