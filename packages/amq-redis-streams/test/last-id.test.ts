import { describeWithBroker, transportOf } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import type { RedisStreamsTransport } from '../src/transport';
import { previousIds, unavailable, useTestBed } from './support/broker';

describeWithBroker('redis-streams: the last-id key beside each stream', unavailable, () => {
  const bed = useTestBed();

  /** A sender, its key's bucket stream and that stream's last-id key. */
  const open = async (state: string) => {
    const sender = await bed.connect({ retentionMs: 60_000 });
    const { keys } = transportOf<RedisStreamsTransport>(sender);
    const stream = keys.bucketStream('callbacks', state);
    const send = (n: number) =>
      sender.send(callbackMessage({ url: `https://x.test/cb?n=${n}`, state }));
    return { stream, lastIdKey: keys.lastIdKey(stream), send };
  };

  /** Each entry's id and the id of the entry it says came before it. */
  const entries = (stream: string) => previousIds(bed.admin, stream);

  it('holds the id of the stream’s last entry, which each entry names as the one before it, and expires with the stream', async () => {
    const { stream, lastIdKey, send } = await open('chain');
    for (let n = 0; n < 4; n++) await send(n);

    const written = await entries(stream);
    expect(written.map((entry) => entry.previous)).toEqual([
      '0-0',
      ...written.slice(0, -1).map((e) => e.id),
    ]);
    expect(await bed.admin.get(lastIdKey)).toBe(written.at(-1)!.id);
    for (const key of [stream, lastIdKey]) {
      const ttl = await bed.admin.pttl(key);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
  });

  it('sends on when the key holds garbage put there at broker level, naming the real entry before', async () => {
    const { stream, lastIdKey, send } = await open('garbage');
    await send(0);
    await bed.admin.del(lastIdKey);
    await bed.admin.hset(lastIdKey, 'not', 'a string');
    await send(1);
    await bed.admin.set(lastIdKey, 'not an id');
    await send(2);

    const written = await entries(stream);
    // A wrong type is read past (the stream's last entry instead); a wrong string is a
    // string: its entry names it, which readers judge forged, and the next one is right.
    expect(written.map((entry) => entry.previous)).toEqual(['0-0', written[0]!.id, 'not an id']);
    expect(await bed.admin.get(lastIdKey)).toBe(written[2]!.id);
  });
});
