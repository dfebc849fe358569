import { describeWithBroker, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { RedisStreamsLagError } from '../src/index';
import { unavailable, useTestBed } from './support/broker';

describeWithBroker('redis-streams reader lag', unavailable, () => {
  const bed = useTestBed();

  it('reports entries trimmed before the reader read them, instead of losing them silently', async () => {
    const exchangePrefix = bed.prefix();
    const receiver = await bed.connect({ exchangePrefix, readCount: 10 });
    const errors: unknown[] = [];
    receiver.onError = (error) => errors.push(error);
    receiver.callback = () => {};
    // A writer whose streams keep about 100 entries sends 5,000 at once: far ahead of a reader taking 10 per read.
    const writer = await bed.connect({ exchangePrefix, maxLength: 100 });
    await receiver.bindCallbackState('burst');
    const message = callbackMessage({ url: 'https://x.test/cb', state: 'burst' });
    await Promise.all(Array.from({ length: 5_000 }, () => writer.send(message)));
    await waitFor(() => errors.length > 0, 'a lag report', 20_000);
    expect(errors[0]).toBeInstanceOf(RedisStreamsLagError);
    expect(String(errors[0])).toMatch(
      /entries of callbacks left their stream before the reader read them/,
    );
  });

  it('reports nothing when the reader keeps up', async () => {
    const exchangePrefix = bed.prefix();
    const receiver = await bed.connect({ exchangePrefix });
    const errors: unknown[] = [];
    receiver.onError = (error) => errors.push(error);
    let received = 0;
    receiver.callback = () => void received++;
    const writer = await bed.connect({ exchangePrefix, maxLength: 100 });
    await receiver.bindCallbackState('steady');
    for (let i = 0; i < 300; i++) {
      await writer.send(callbackMessage({ url: `https://x.test/cb?${i}`, state: 'steady' }));
    }
    await waitFor(() => received === 300, 'three hundred messages', 20_000);
    expect(errors).toEqual([]);
  });
});
