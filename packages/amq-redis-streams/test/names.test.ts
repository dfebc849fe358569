import { EXCHANGE_NAMES } from '@teal/amq-core';
import { describeWithBroker, transportOf } from '@teal/amq-core/testing';
import calculateSlot from 'cluster-key-slot';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { compareStreamIds } from '../src/entries';
import { bucketOf, connect, StreamKeys } from '../src/index';
import type { RedisStreamsTransport } from '../src/transport';
import { REDIS_URL, scanKeys, unavailable } from './support/broker';

const PREFIXES = [
  '',
  '{',
  '}',
  'a}b',
  '{a}',
  '}{',
  '%7B',
  '%',
  'état/½ 🦊.',
  'a:b',
  'x'.repeat(300),
];

/** Every key a handler of this prefix may touch. */
function allKeys(keys: StreamKeys): string[] {
  const streams = EXCHANGE_NAMES.flatMap((exchange) =>
    Array.from({ length: 4_000 }, (_, i) => keys.bucketStream(exchange, `key-${i}`)),
  );
  return [...new Set([...streams, keys.wakeStream('0123456789abcdef')])];
}

describe('stream key layout', () => {
  it.each(PREFIXES)(
    'puts every key of prefix %j in one hash slot, through a non-empty tag',
    (prefix) => {
      const keys = new StreamKeys(prefix, 16);
      const all = allKeys(keys);
      expect(all).toHaveLength(EXCHANGE_NAMES.length * 16 + 1);
      const slots = new Set(all.map((key) => calculateSlot(key)));
      expect(slots.size).toBe(1);
      // The tag is the text between the first `{` and the next `}`: it must be the escaped prefix, whole.
      const tag = keys.base.slice(keys.base.indexOf('{') + 1, keys.base.indexOf('}'));
      expect(tag.startsWith('p:')).toBe(true);
      expect(keys.base.endsWith(`{${tag}}`)).toBe(true);
      expect(calculateSlot(tag)).toBe([...slots][0]);
    },
  );

  it('gives distinct prefixes distinct keys, escapes included', () => {
    const bases = PREFIXES.concat(['%257B', '%7b', 'a', 'a.']).map(
      (prefix) => new StreamKeys(prefix, 16).base,
    );
    expect(new Set(bases).size).toBe(bases.length);
  });

  it('hashes routing keys with FNV-1a 32 over UTF-8, stably', () => {
    // Published FNV-1a 32-bit test vectors, taken modulo 2^32 (one bucket per hash value).
    expect(bucketOf('', 2 ** 32)).toBe(0x811c9dc5);
    expect(bucketOf('a', 2 ** 32)).toBe(0xe40c292c);
    expect(bucketOf('foobar', 2 ** 32)).toBe(0xbf9cf968);
    // Exact bytes, no Unicode normalisation: composed and decomposed é are different keys.
    expect(bucketOf('\u00e9', 2 ** 32)).not.toBe(bucketOf('e\u0301', 2 ** 32));
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[bucketOf(`state-${i}`, 16)]!++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1_200);
  });

  it('orders stream ids numerically, not as text', () => {
    expect(compareStreamIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareStreamIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareStreamIds('1700000000000-5', '1700000000000-5')).toBe(0);
    expect(compareStreamIds('1700000000001-0', '1700000000000-99')).toBeGreaterThan(0);
    expect(compareStreamIds('0-0', '0-1')).toBeLessThan(0);
  });

  it('orders any two stream ids as their numbers do, with parts of equal or different lengths', () => {
    // Ids near each other (the same lengths, as a reader's mostly are) and far apart.
    const part = fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.bigInt({ min: 1_700_000_000_000n, max: 1_700_000_000_099n }),
      fc.bigInt({ min: 0n, max: 12n }),
    );
    fc.assert(
      fc.property(part, part, part, part, (aMs, aSeq, bMs, bSeq) => {
        const expected = aMs === bMs ? Math.sign(Number(aSeq - bSeq)) : aMs < bMs ? -1 : 1;
        expect(Math.sign(compareStreamIds(`${aMs}-${aSeq}`, `${bMs}-${bSeq}`))).toBe(expected);
      }),
      { numRuns: 2_000 },
    );
  });
});

describeWithBroker('stream keys on Redis', unavailable, () => {
  it.each(['{', 'a}b', 'ünï*[?]\\'])(
    'writes the keys of prefix %j in one slot, found by its SCAN pattern only',
    async (stem) => {
      const prefix = `${stem}${Math.random().toString(36).slice(2)}`;
      const handler = await connect({ url: REDIS_URL, exchangePrefix: prefix });
      const neighbour = await connect({ url: REDIS_URL, exchangePrefix: `${prefix}x` });
      const admin = new Redis(REDIS_URL);
      try {
        await Promise.all(
          EXCHANGE_NAMES.map((exchange, i) =>
            handler.bindCallbackState(`k${i}`).then(() => exchange),
          ),
        );
        await handler.bindOpenIDCIBARequestIdentifier('request');
        for (let i = 0; i < 40; i++) {
          await handler.send({
            kind: 'callback',
            timestamp: new Date(),
            url: 'https://x.test/cb',
            state: `s${i}`,
          });
          await neighbour.send({
            kind: 'callback',
            timestamp: new Date(),
            url: 'https://x.test/cb',
            state: `s${i}`,
          });
        }
        const found = await scanKeys(
          admin,
          transportOf<RedisStreamsTransport>(handler).keys.pattern,
        );
        expect(found.length).toBeGreaterThan(1);
        expect(found).toContain(
          transportOf<RedisStreamsTransport>(handler).keys.wakeStream(
            transportOf<RedisStreamsTransport>(handler).handlerId,
          ),
        );
        expect(
          found.every((key) =>
            key.startsWith(transportOf<RedisStreamsTransport>(handler).keys.base),
          ),
        ).toBe(true);
        expect(new Set(found.map((key) => calculateSlot(key))).size).toBe(1);
      } finally {
        admin.disconnect();
        await handler.close();
        await neighbour.close();
      }
    },
  );
});
