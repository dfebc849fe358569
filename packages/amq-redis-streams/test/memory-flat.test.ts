import { describeWithBroker, memoryFootprint, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { unavailable, useTestBed } from './support/broker';

const MESSAGE_BYTES = 4 * 1024;
const IN_FLIGHT = 64;
/** What 20,000 more messages may leave behind: a leak of 0.3 KiB per message (a race per send) shows. */
const MAX_GROWTH = 4 * 1024 * 1024;

describeWithBroker('redis-streams memory under traffic', unavailable, () => {
  const bed = useTestBed();

  it('stays flat while 30,000 messages of 4 KiB pass through a handler', async () => {
    const exchangePrefix = bed.prefix();
    // The stream is trimmed well behind the reader: the test must not fill the shared Redis.
    const receiver = await bed.connect({ exchangePrefix });
    const sender = await bed.connect({ exchangePrefix, maxLength: 5_000 });
    const state = 'flat';
    let received = 0;
    receiver.callback = () => void received++;
    await receiver.bindCallbackState(state);
    const message = callbackMessage({
      url: `https://x.test/cb?state=${state}&pad=${'x'.repeat(MESSAGE_BYTES)}`,
      state,
    });
    const pass = async (count: number) => {
      const target = received + count;
      const inFlight = new Set<Promise<void>>();
      for (let i = 0; i < count; i++) {
        const send: Promise<void> = sender.send(message).then(() => void inFlight.delete(send));
        inFlight.add(send);
        if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      await waitFor(() => received >= target, `${target} deliveries (got ${received})`, 60_000);
    };
    await pass(10_000);
    const after10k = await memoryFootprint();
    await pass(20_000);
    const after30k = await memoryFootprint();
    const growth = after30k - after10k;
    console.info(
      `[memory] after 10,000: ${(after10k / 2 ** 20).toFixed(1)} MiB; after 30,000: ${(after30k / 2 ** 20).toFixed(1)} MiB; growth ${(growth / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(growth).toBeLessThan(MAX_GROWTH);
  }, 240_000);
});
