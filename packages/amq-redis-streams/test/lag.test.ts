import { describeWithBroker, randomPrefix, transportOf, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, RedisStreamsLagError } from '../src/index';
import type { RedisStreamsTransport } from '../src/transport';
import { REDIS_URL, unavailable } from './support/broker';

describeWithBroker('redis-streams reader lag', unavailable, () => {
  let admin: Redis;
  beforeAll(() => {
    admin = new Redis(REDIS_URL);
  });
  afterAll(() => {
    admin.disconnect();
  });

  it('reports entries trimmed before the reader read them, instead of losing them silently', async () => {
    const prefix = randomPrefix();
    const receiver = await connect({ url: REDIS_URL, exchangePrefix: prefix, readCount: 10 });
    const errors: unknown[] = [];
    receiver.onError = (error) => errors.push(error);
    receiver.callback = () => {};
    // A writer whose streams keep about 100 entries sends 5,000 at once: far ahead of a reader taking 10 per read.
    const writer = await connect({ url: REDIS_URL, exchangePrefix: prefix, maxLength: 100 });
    try {
      await receiver.bindCallbackState('burst');
      const message = callbackMessage({ url: 'https://x.test/cb', state: 'burst' });
      await Promise.all(Array.from({ length: 5_000 }, () => writer.send(message)));
      await waitFor(() => errors.length > 0, 'a lag report', 20_000);
      expect(errors[0]).toBeInstanceOf(RedisStreamsLagError);
      expect(String(errors[0])).toMatch(
        /entries of callbacks left their stream before the reader read them/,
      );
    } finally {
      await admin.del(
        transportOf<RedisStreamsTransport>(writer).keys.bucketStream('callbacks', 'burst'),
      );
      await Promise.all([writer.close(), receiver.close()]);
    }
  });

  it('reports nothing when the reader keeps up', async () => {
    const prefix = randomPrefix();
    const receiver = await connect({ url: REDIS_URL, exchangePrefix: prefix });
    const errors: unknown[] = [];
    receiver.onError = (error) => errors.push(error);
    let received = 0;
    receiver.callback = () => void received++;
    const writer = await connect({ url: REDIS_URL, exchangePrefix: prefix, maxLength: 100 });
    try {
      await receiver.bindCallbackState('steady');
      for (let i = 0; i < 300; i++) {
        await writer.send(callbackMessage({ url: `https://x.test/cb?${i}`, state: 'steady' }));
      }
      await waitFor(() => received === 300, 'three hundred messages', 20_000);
      expect(errors).toEqual([]);
    } finally {
      await Promise.all([writer.close(), receiver.close()]);
    }
  });
});
