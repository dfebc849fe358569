import type { AMQHandler } from '@teal/amq-core';
import { AMQUnconfirmedSendError } from '@teal/amq-core';
import { describeWithBroker, randomPrefix, sleep, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { APPEND_SCRIPT } from '../src/publisher-scripts';
import { unavailable, useTestBed } from './support/broker';

const DEADLINE_MS = 1_000;

/** Sends until one send resolves: the handler is back. */
async function sendOnceBack(handler: AMQHandler, state: string, url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await handler.send(callbackMessage({ url, state }));
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

describeWithBroker('redis-streams writes that arrive late', unavailable, () => {
  const bed = useTestBed();

  /** A receiver on Redis and a sender through a fault proxy that has sent one message. */
  const pair = async (state: string) => {
    const { proxy, sender, seen } = await bed.proxiedPair(state, { sendTimeoutMs: DEADLINE_MS });
    await sender.send(callbackMessage({ url: 'https://x.test/cb?warm', state }));
    await waitFor(() => seen.length === 1, 'the first message');
    return { proxy, sender, seen };
  };

  it('refuses, inside Redis, a write whose deadline passed, and writes one whose deadline is ahead', async () => {
    const stream = `teal-test-late:{${randomPrefix()}}`;
    const [seconds] = (await bed.admin.time()) as [number, number];
    const now = Number(seconds) * 1_000;
    // biome-ignore format: KEYS and ARGV
    await expect(bed.admin.eval(APPEND_SCRIPT, 2, stream, `${stream}:last`, 100, 60_000, now - 5_000, 'p 1 ', 'k', 'a', 'b', '{}'))
      .rejects.toThrow(/^TEALLATE/);
    expect(await bed.admin.exists(stream, `${stream}:last`)).toBe(0);
    // biome-ignore format: KEYS and ARGV
    await bed.admin.eval(APPEND_SCRIPT, 2, stream, `${stream}:last`, 100, 60_000, now + 60_000, 'p 1 ', 'k', 'a', 'b', '{}');
    expect(await bed.admin.xlen(stream)).toBe(1);
    await bed.admin.del(stream, `${stream}:last`);
  });

  it('rejects as unconfirmed the sends whose writes sat on a frozen link, and Redis refuses them when they come again after their deadline', async () => {
    const state = 'frozen-then-cut';
    const { proxy, sender, seen } = await pair(state);
    proxy.freeze();
    const urls = Array.from({ length: 20 }, (_, i) => `https://x.test/cb?frozen=${i}`);
    const outcomes = await Promise.allSettled(
      urls.map((url) => sender.send(callbackMessage({ url, state }))),
    );
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      // Written, and never answered: whether Redis has them is unknown to the sender.
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(AMQUnconfirmedSendError);
    }
    // The writes are on the wire: ioredis resends them on the next connection.
    proxy.cut();
    await sleep(300);
    const acceptedBefore = proxy.accepted;
    proxy.restore();
    await sendOnceBack(sender, state, 'https://x.test/cb?after');
    expect(proxy.accepted).toBeGreaterThan(acceptedBefore);
    await waitFor(() => seen.includes('https://x.test/cb?after'), 'the message after recovery');
    await sleep(1_000);
    expect(seen.filter((url) => url.includes('frozen'))).toEqual([]);
  }, 60_000);

  it.each([
    ['shorter', 300],
    ['longer', 2_500],
  ])(
    'delivers once every send that resolved and never one that rejected unless unconfirmed, across a freeze %s than the deadline',
    async (_, freezeMs) => {
      const state = `freeze-${freezeMs}`;
      const { proxy, sender, seen } = await pair(state);
      const outcomes = new Map<string, 'resolved' | 'rejected' | 'unconfirmed'>();
      const sends: Promise<void>[] = [];
      const started = Date.now();
      let n = 0;
      let isFrozen = false;
      while (Date.now() - started < 2 * DEADLINE_MS + freezeMs) {
        const elapsed = Date.now() - started;
        if (!isFrozen && elapsed >= 500 && elapsed < 500 + freezeMs) {
          proxy.freeze();
          isFrozen = true;
        } else if (isFrozen && elapsed >= 500 + freezeMs) {
          proxy.restore();
          isFrozen = false;
        }
        const url = `https://x.test/cb?n=${n++}`;
        sends.push(
          sender.send(callbackMessage({ url, state })).then(
            () => void outcomes.set(url, 'resolved'),
            (error: unknown) =>
              void outcomes.set(
                url,
                error instanceof AMQUnconfirmedSendError ? 'unconfirmed' : 'rejected',
              ),
          ),
        );
        await sleep(10);
      }
      if (isFrozen) proxy.restore();
      await Promise.all(sends);
      await sendOnceBack(sender, state, 'https://x.test/cb?after');
      await waitFor(() => seen.includes('https://x.test/cb?after'), 'the message after recovery');
      await sleep(1_000);
      const resolved = [...outcomes].filter(([, how]) => how === 'resolved').map(([url]) => url);
      const rejected = [...outcomes].filter(([, how]) => how === 'rejected').map(([url]) => url);
      const unconfirmed = [...outcomes].filter(([, how]) => how === 'unconfirmed');
      const delivered = seen.filter((url) => url.includes('?n='));
      expect(new Set(delivered).size).toBe(delivered.length);
      expect(rejected.filter((url) => delivered.includes(url))).toEqual([]);
      expect(resolved.filter((url) => !delivered.includes(url))).toEqual([]);
      // The writes sent into the frozen link, unanswered past their deadline, are the unconfirmed ones.
      if (freezeMs > DEADLINE_MS) expect(unconfirmed.length).toBeGreaterThan(0);
      else expect(resolved.length).toBe(outcomes.size);
    },
    60_000,
  );
});
