import type { AMQHandler } from '@teal/amq-core';
import {
  type AdapterCapabilities,
  type BrokerTarget,
  type HostileFrame,
  sleep,
  transportOf,
} from '@teal/amq-core/testing';
import { callbackMessage, encodeMessage } from '@teal/messages';
import type { Cluster, Redis } from 'ioredis';
import { StreamKeys } from '../../src/names';
import type { RedisStreamsTransport } from '../../src/transport';

type Admin = Redis | Cluster;

/** The bucket stream of the target's key, with the default bucket count the contract handlers use. */
function streamOf(target: BrokerTarget): string {
  return new StreamKeys(target.exchangePrefix, 16).bucketStream(target.exchange, target.routingKey);
}

/** A valid message for the key, carrying the secret: delivered, it would show in the suite's arrivals. */
function validBody(target: BrokerTarget, secret: string): string {
  return encodeMessage(
    callbackMessage({ url: `https://x.test/?t=${secret}`, state: target.routingKey }),
  );
}

/** Every key matching `pattern`, on every master (a cluster keeps a prefix on one of them). */
async function scan(admin: Admin, pattern: string): Promise<string[]> {
  const nodes = 'nodes' in admin && typeof admin.nodes === 'function' ? admin.nodes('master') : [];
  const keys: string[] = [];
  for (const node of nodes.length > 0 ? nodes : [admin as Redis]) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
  }
  return keys;
}

/** The wake streams of the target's prefix: the receiving handler's. */
function wakeStreams(admin: Admin, target: BrokerTarget): Promise<string[]> {
  return scan(admin, `${new StreamKeys(target.exchangePrefix, 16).pattern.slice(0, -1)}wake:*`);
}

/** An entry of the target's bucket stream with these fields, as a foreign writer would add it. */
function entry(fields: (target: BrokerTarget, secret: string) => (string | Buffer)[]) {
  return (admin: Admin) => async (target: BrokerTarget, secret: string) => {
    await admin.xadd(streamOf(target), '*', ...fields(target, secret));
  };
}

const FRAMES: ReadonlyArray<{
  name: string;
  publish: (admin: Admin) => (target: BrokerTarget, secret: string) => Promise<void>;
}> = [
  {
    name: 'an entry without a routing key (k)',
    publish: entry((t, s) => ['p', 'forger', 'n', '1', 'b', validBody(t, s)]),
  },
  { name: 'an entry without a body (b)', publish: entry((t, s) => ['k', t.routingKey, 'x', s]) },
  {
    name: 'an entry whose sequence number (n) is not a number',
    publish: entry((t, s) => [
      'k',
      t.routingKey,
      'p',
      'forger',
      'n',
      '0x1e3',
      'b',
      validBody(t, s),
    ]),
  },
  {
    name: 'an entry whose sequence number (n) is 10^30',
    publish: entry((t, s) => [
      'k',
      t.routingKey,
      'p',
      'f',
      'n',
      `1${'0'.repeat(30)}`,
      'b',
      validBody(t, s),
    ]),
  },
  {
    name: 'an entry with a producer (p) but no sequence number (n)',
    publish: entry((t, s) => ['k', t.routingKey, 'p', 'forger', 'b', validBody(t, s)]),
  },
  {
    name: 'an entry whose previous id (v) is later than its own id',
    publish: entry((t, s) => ['k', t.routingKey, 'v', '99999999999999-0', 'b', validBody(t, s)]),
  },
  {
    name: 'an entry whose previous id (v) is not an id',
    publish: entry((t, s) => ['k', t.routingKey, 'v', '00-x', 'b', validBody(t, s)]),
  },
  {
    name: 'an entry whose previous id (v) names an entry its stream never held',
    publish: (admin) => async (target, secret) => {
      // An id just after the stream's last, and one after that for the entry: a gap that never was.
      const stream = streamOf(target);
      const [last] = (await admin.xrevrange(stream, '+', '-', 'COUNT', 1)) as [string, string[]][];
      const lastMs = last === undefined ? 0 : Number(last[0].split('-')[0]);
      const ms = Math.max(Date.now(), lastMs + 2);
      // biome-ignore format: field/value pairs
      await admin.xadd(stream, `${ms}-0`, 'k', target.routingKey, 'v', `${ms - 1}-0`,
        'b', validBody(target, secret));
    },
  },
  {
    name: 'an entry whose routing key (k) is 1 MiB',
    publish: entry((t, s) => ['k', `${'k'.repeat(1024 * 1024)}${s}`, 'b', validBody(t, s)]),
  },
  {
    name: 'an entry of 500 fields',
    publish: entry((t, s) => [
      'k',
      t.routingKey,
      'b',
      validBody(t, s),
      ...Array.from({ length: 498 }, (_, i) => [`f${i}`, s]).flat(),
    ]),
  },
  {
    name: 'an entry with full metadata and a body that is not UTF-8',
    publish: entry((t, s) => [
      'k',
      t.routingKey,
      'p',
      'forger',
      'n',
      '7',
      'b',
      Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from(s)]),
    ]),
  },
  {
    name: "a hash where the receiving handler's wake stream should be",
    publish: (admin) => async (target, secret) => {
      for (const wake of await wakeStreams(admin, target)) {
        await admin.del(wake);
        await admin.hset(wake, 'field', secret);
      }
    },
  },
  {
    name: "a string where the key's bucket stream should be, while the reader is woken",
    publish: (admin) => async (target, secret) => {
      const stream = streamOf(target);
      await admin.del(stream);
      await admin.set(stream, secret);
      for (const wake of await wakeStreams(admin, target)) await admin.xadd(wake, '*', 'w', '1');
      await sleep(400);
      await admin.del(stream);
    },
  },
];

/**
 * The contract capabilities of a target whose broker `admin` reaches: what the
 * handler holds in Redis (its wake stream; its bindings live only in its
 * reader), raw entries as any Redis client would add them, and hostile ones.
 */
export function redisCapabilities(admin: () => Admin): AdapterCapabilities {
  return {
    brokerResources: async (handler: AMQHandler) => {
      const { keys, handlerId } = transportOf<RedisStreamsTransport>(handler);
      const wakeStream = keys.wakeStream(handlerId);
      return (await admin().exists(wakeStream)) === 1 ? [`stream ${wakeStream}`] : [];
    },
    publishAtBroker: async (target, body) => {
      const payload = typeof body === 'string' ? body : Buffer.from(body);
      await admin().xadd(streamOf(target), '*', 'k', target.routingKey, 'b', payload);
    },
    hostileFrames: FRAMES.map(
      (frame): HostileFrame => ({
        name: frame.name,
        publish: (target, secret) => frame.publish(admin())(target, secret),
      }),
    ),
  };
}
