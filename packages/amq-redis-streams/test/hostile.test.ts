import { AMQUnconfirmedSendError } from '@teal/amq-core';
import { describeWithBroker, sleep, transportOf, waitFor } from '@teal/amq-core/testing';
import { callbackMessage, encodeMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { bucketOf, RedisStreamsLagError } from '../src/index';
import type { RedisStreamsTransport } from '../src/transport';
import { unavailable, useTestBed, watchedPair } from './support/broker';

describeWithBroker('redis-streams hostile entries', unavailable, () => {
  const bed = useTestBed();

  const setUp = (states: readonly string[]) => watchedPair(bed, states);

  it('drops 200 entries that claim a gap their stream never had, without one RedisStreamsLagError, and with few warnings', async () => {
    const state = 'forged-gaps';
    const started = Date.now();
    const { sender, seen, errors, records, keys } = await setUp([state]);
    const stream = keys.bucketStream('callbacks', state);
    await sender.send(callbackMessage({ url: 'https://x.test/cb?first', state }));
    await waitFor(() => seen.length === 1, 'the first message');
    const body = encodeMessage(callbackMessage({ url: 'https://x.test/cb?forged', state }));
    const [last] = await bed.admin.xrevrange(stream, '+', '-', 'COUNT', 1);
    const lastId = last![0];
    let ms = Math.max(Date.now(), Number(lastId.split('-')[0]) + 2);
    for (let i = 0; i < 200; i++, ms += 2) {
      await bed.admin.xadd(stream, `${ms}-0`, 'k', state, 'v', `${ms - 1}-0`, 'b', body);
    }
    await sender.send(callbackMessage({ url: 'https://x.test/cb?last', state }));
    await waitFor(() => seen.includes('https://x.test/cb?last'), 'the message after them');
    await sleep(300);
    expect(seen).toEqual(['https://x.test/cb?first', 'https://x.test/cb?last']);
    expect(errors.filter((error) => error instanceof RedisStreamsLagError)).toEqual([]);
    const warnings = records.filter((record) => record.level === 'warn');
    expect(warnings.length).toBeGreaterThan(0);
    // The throttle's burst of 10, then one a second since the handler opened: not one per entry.
    expect(warnings.length).toBeLessThanOrEqual(10 + Math.floor((Date.now() - started) / 1_000));
    expect(warnings[0]!.message).toMatch(/names an entry its stream never held/);
  });

  it('still reports a real gap: an entry deleted before the reader read it', async () => {
    const state = 'real-gap';
    const exchangePrefix = bed.prefix();
    // A backlog of one and a stuck callback: the reader leaves what follows in Redis.
    const receiver = await bed.connect({ exchangePrefix, maxBacklog: 1 });
    const sender = await bed.connect({ exchangePrefix });
    const errors: unknown[] = [];
    receiver.onError = (error) => errors.push(error);
    let release = () => {};
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    const seen: string[] = [];
    receiver.callback = async (message) => {
      if (message.kind === 'callback') seen.push(message.url);
      await stuck;
    };
    await receiver.bindCallbackState(state);
    for (let i = 1; i <= 4; i++) {
      await sender.send(callbackMessage({ url: `https://x.test/cb?${i}`, state }));
    }
    await waitFor(() => seen.length === 1, 'the first message');
    await sleep(300);
    const stream = transportOf<RedisStreamsTransport>(receiver).keys.bucketStream(
      'callbacks',
      state,
    );
    const entries = (await bed.admin.xrange(stream, '-', '+')) as [string, string[]][];
    await bed.admin.xdel(stream, entries[2]![0]);
    release();
    await waitFor(() => seen.length === 3, 'the messages left');
    expect(seen).toEqual(['https://x.test/cb?1', 'https://x.test/cb?2', 'https://x.test/cb?4']);
    expect(errors.filter((error) => error instanceof RedisStreamsLagError)).toHaveLength(1);
  });

  it('keeps reading its other streams while one key of its holds another type, and reads it again once it is a stream', async () => {
    const states = ['clobbered', 'bystander'];
    const { sender, seen, records, keys } = await setUp(states);
    expect(bucketOf('clobbered', 16)).not.toBe(bucketOf('bystander', 16));
    const stream = keys.bucketStream('callbacks', 'clobbered');
    await bed.admin.del(stream);
    await bed.admin.set(stream, 'Clobbered-Secret');
    for (let i = 0; i < 5; i++) {
      await sender.send(
        callbackMessage({ url: `https://x.test/cb?other=${i}`, state: 'bystander' }),
      );
      await sleep(100);
    }
    await waitFor(() => seen.length === 5, 'the other key’s messages');
    expect(records.some((record) => /holds another type/.test(record.message))).toBe(true);
    const refused = sender.send(
      callbackMessage({ url: 'https://x.test/cb?refused', state: 'clobbered' }),
    );
    await expect(refused).rejects.toThrow(/WRONGTYPE/);
    // Redis answered, refusing it: never written, so no unconfirmed send.
    await expect(refused).rejects.not.toBeInstanceOf(AMQUnconfirmedSendError);
    await bed.admin.del(stream);
    await sender.send(callbackMessage({ url: 'https://x.test/cb?back', state: 'clobbered' }));
    await waitFor(() => seen.includes('https://x.test/cb?back'), 'the clobbered key, back');
    expect(JSON.stringify(records)).not.toContain('Clobbered-Secret');
  });
});
