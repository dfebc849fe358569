import { describeWithBroker, transportOf, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import type { RedisStreamsTransport } from '../src/transport';
import { pollBroker, scanKeys, unavailable, useTestBed } from './support/broker';

const RETENTION_MS = 1_500;

describeWithBroker('redis-streams memory bounds', unavailable, () => {
  const bed = useTestBed();

  it('leaves no key of the prefix once the retention passed after a burst to 500 one-off keys', async () => {
    const options = { exchangePrefix: bed.prefix(), retentionMs: RETENTION_MS };
    const sender = await bed.connect(options);
    const receiver = await bed.connect(options);
    let received = 0;
    receiver.callback = () => void received++;
    const states = Array.from(
      { length: 500 },
      (_, i) => `one-off-${i}-${Math.random().toString(36).slice(2)}`,
    );
    await Promise.all(states.slice(0, 5).map((state) => receiver.bindCallbackState(state)));
    await Promise.all(
      states.map((state) =>
        sender.send(callbackMessage({ url: `https://x.test/cb?state=${state}`, state })),
      ),
    );
    await waitFor(() => received === 5, 'the five bound messages');

    const pattern = transportOf<RedisStreamsTransport>(sender).keys.pattern;
    const keys = await scanKeys(bed.admin, pattern);
    expect(keys.length).toBeGreaterThan(1);
    // The callbacks buckets, their last-id keys and the receiver's wake stream.
    expect(keys.length).toBeLessThanOrEqual(16 + 16 + 1);
    const wakeStream = transportOf<RedisStreamsTransport>(receiver).keys.wakeStream(
      transportOf<RedisStreamsTransport>(receiver).handlerId,
    );
    for (const key of keys) {
      const ttl = await bed.admin.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      // Bucket streams expire after the retention; the wake stream is deleted by close().
      if (key !== wakeStream) expect(ttl).toBeLessThanOrEqual(RETENTION_MS);
    }
    await receiver.close();
    await pollBroker(
      async () => (await scanKeys(bed.admin, pattern)).length === 0,
      'the prefix to hold no key',
      30_000,
    );
  });

  it('trims a stream to about maxLength entries', async () => {
    const maxLength = 100;
    const sender = await bed.connect({ maxLength });
    const state = 'burst';
    await Promise.all(
      Array.from({ length: 3_000 }, (_, i) =>
        sender.send(callbackMessage({ url: `https://x.test/cb?${i}`, state })),
      ),
    );
    const length = await bed.admin.xlen(
      transportOf<RedisStreamsTransport>(sender).keys.bucketStream('callbacks', state),
    );
    // Approximate trimming removes whole stream nodes (stream-node-max-entries, 100 by default).
    expect(length).toBeGreaterThanOrEqual(maxLength);
    expect(length).toBeLessThanOrEqual(maxLength + 100);
  });

  it('drops entries older than the retention from a stream kept busy', async () => {
    const sender = await bed.connect({ retentionMs: 1_000 });
    const state = 'busy';
    const stream = transportOf<RedisStreamsTransport>(sender).keys.bucketStream('callbacks', state);
    const send = () =>
      sender.send(callbackMessage({ url: `https://x.test/cb?${'x'.repeat(1_500)}`, state }));
    await send();
    const [[firstId]] = (await bed.admin.xrange(stream, '-', '+', 'COUNT', 1)) as [
      [string, string[]],
    ];
    const isFirstGone = async () => (await bed.admin.xrange(stream, firstId, firstId)).length === 0;
    const deadline = Date.now() + 20_000;
    while (!(await isFirstGone()) && Date.now() < deadline) {
      await send();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await isFirstGone()).toBe(true);
    expect(await bed.admin.exists(stream)).toBe(1);
  });
});
