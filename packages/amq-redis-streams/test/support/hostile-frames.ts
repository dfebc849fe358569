import type { BrokerTarget } from '@teal/amq-core/testing';
import { sleep } from '@teal/amq-core/testing';
import { callbackMessage, encodeMessage } from '@teal/messages';
import type { Cluster, Redis } from 'ioredis';

/** Where a frame goes, as the target's broker names it. */
export interface FrameTarget extends BrokerTarget {
  /** A client of the Redis the handlers use. */
  readonly admin: Redis | Cluster;
  /** The bucket stream of the target's key. */
  readonly stream: string;
  /** The wake streams of the target's prefix: the receiving handler's. */
  wakeStreams(): Promise<string[]>;
}

/** A valid message for the key, carrying the secret: delivered, it would show in the suite's arrivals. */
function validBody(target: BrokerTarget, secret: string): string {
  return encodeMessage(
    callbackMessage({ url: `https://x.test/?t=${secret}`, state: target.routingKey }),
  );
}

/** An entry of the target's bucket stream with these fields, as a foreign writer would add it. */
function entry(fields: (target: BrokerTarget, secret: string) => (string | Buffer)[]) {
  return async (target: FrameTarget, secret: string) => {
    await target.admin.xadd(target.stream, '*', ...fields(target, secret));
  };
}

/**
 * An entry that names as the one before it an id just after the stream's
 * last, with an id after that of its own: a gap that never was. `metadata`:
 * its fields that name that id.
 */
function forgedGap(metadata: (previous: string) => string[]) {
  return async (target: FrameTarget, secret: string) => {
    const { admin, stream } = target;
    const [last] = (await admin.xrevrange(stream, '+', '-', 'COUNT', 1)) as [string, string[]][];
    const lastMs = last === undefined ? 0 : Number(last[0].split('-')[0]);
    const ms = Math.max(Date.now(), lastMs + 2);
    // biome-ignore format: field/value pairs
    await admin.xadd(stream, `${ms}-0`, 'k', target.routingKey, ...metadata(`${ms - 1}-0`),
      'b', validBody(target, secret));
  };
}

/** Entries and keys a hostile or broken writer could leave where the adapter reads. */
export const HOSTILE_FRAMES: ReadonlyArray<{
  readonly name: string;
  publish(target: FrameTarget, secret: string): Promise<void>;
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
    publish: forgedGap((previous) => ['v', previous]),
  },
  {
    name: 'an entry whose m is 1 MiB',
    publish: entry((t, s) => [
      'k',
      t.routingKey,
      'm',
      `p 1 0-0${s.repeat(1 + (1024 * 1024) / s.length)}`,
      'b',
      validBody(t, s),
    ]),
  },
  {
    name: 'an entry whose m is not a producer, a sequence number and a previous id',
    publish: entry((t, s) => ['k', t.routingKey, 'm', `forger ${s}`, 'b', validBody(t, s)]),
  },
  {
    name: 'an entry whose m has a sequence number of 10^30',
    publish: entry((t, s) => [
      'k',
      t.routingKey,
      'm',
      `forger 1${'0'.repeat(30)} 0-0`,
      'b',
      validBody(t, s),
    ]),
  },
  {
    name: 'an entry with both m and p, n, v',
    publish: entry((t, s) => [
      'k',
      t.routingKey,
      'm',
      'forger 1 0-0',
      'p',
      'forger',
      'n',
      '2',
      'b',
      validBody(t, s),
    ]),
  },
  {
    name: 'an entry whose m names a previous entry its stream never held',
    publish: forgedGap((previous) => ['m', `forger 1 ${previous}`]),
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
    name: 'an entry of 1,000 header fields (h:…)',
    publish: entry((t, s) => [
      'k',
      t.routingKey,
      'b',
      validBody(t, s),
      ...Array.from({ length: 1_000 }, (_, i) => [`h:f${i}`, s]).flat(),
    ]),
  },
  {
    name: 'an entry whose headers are forged — 1 MiB, a name with a line break, a value with escape codes — beside a body that is not a message',
    publish: entry((t, s) => [
      'k',
      t.routingKey,
      'h:traceparent',
      `00-${s.repeat(Math.ceil((1024 * 1024) / s.length))}`,
      `h:${s}\nforged: 1`,
      'x',
      'h:tracestate',
      `\x1b[2J${s}`,
      'b',
      `{"state": "${s}"`,
    ]),
  },
  {
    name: "a hash where the receiving handler's wake stream should be",
    publish: async (target, secret) => {
      for (const wake of await target.wakeStreams()) {
        await target.admin.del(wake);
        await target.admin.hset(wake, 'field', secret);
      }
    },
  },
  {
    name: "a string where the key's bucket stream should be, while the reader is woken",
    publish: async (target, secret) => {
      const { admin, stream } = target;
      await admin.del(stream);
      await admin.set(stream, secret);
      for (const wake of await target.wakeStreams()) await admin.xadd(wake, '*', 'w', '1');
      await sleep(400);
      await admin.del(stream);
    },
  },
];
