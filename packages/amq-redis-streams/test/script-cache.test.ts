import { AMQSendError, AMQUnconfirmedSendError } from '@teal/amq-core';
import { describeWithBroker, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { APPEND_BATCH_SCRIPT_SHA, APPEND_SCRIPT_SHA } from '../src/publisher-scripts';
import { useTestBed } from './support/broker';
import { redisServerMissing, usePrivateRedis } from './support/server';

// A private server: these tests flush its script cache.
describeWithBroker('redis-streams append scripts by their SHA1', await redisServerMissing(), () => {
  const redis = usePrivateRedis();
  const bed = useTestBed(() => redis.server.url);

  /** Whether Redis holds the script: the single-entry one (a send alone on its tick) or the batch one. */
  const isCached = async (sha: string) =>
    ((await bed.admin.script('EXISTS', sha)) as number[])[0] === 1;

  it('refuses as not written a send whose script Redis lost while connected, and the next ones land in order', async () => {
    const { sender, seen } = await bed.proxiedPair('flushed', { sendTimeoutMs: 10_000 });
    const url = (n: number) => `https://x.test/cb?flushed=${n}`;
    for (let n = 0; n < 3; n++)
      await sender.send(callbackMessage({ url: url(n), state: 'flushed' }));
    expect(await isCached(APPEND_SCRIPT_SHA)).toBe(true);

    await bed.admin.script('FLUSH');
    const refused = sender.send(callbackMessage({ url: url(3), state: 'flushed' }));
    await expect(refused).rejects.toThrow(/script cache was flushed/);
    await expect(refused).rejects.toBeInstanceOf(AMQSendError);
    await expect(refused).rejects.not.toBeInstanceOf(AMQUnconfirmedSendError);
    for (let n = 4; n < 8; n++)
      await sender.send(callbackMessage({ url: url(n), state: 'flushed' }));
    expect(await isCached(APPEND_SCRIPT_SHA)).toBe(true);

    await waitFor(() => seen.length === 7, 'the sends that resolved');
    expect(seen).toEqual([0, 1, 2, 4, 5, 6, 7].map(url));
  });

  it('sends again as EVAL the writes a lost connection left unanswered: a server without the script still takes them, in order', async () => {
    const state = 'resent';
    const { proxy, sender, seen } = await bed.proxiedPair(state, { sendTimeoutMs: 10_000 });
    const url = (n: number) => `https://x.test/cb?resent=${n}`;
    // Two sends of one tick: one run of the batch script, which the sender then calls by SHA1.
    await Promise.all([0, 1].map((n) => sender.send(callbackMessage({ url: url(n), state }))));
    expect(await isCached(APPEND_BATCH_SCRIPT_SHA)).toBe(true);

    // Written as EVALSHA into a link that forwards nothing, then the server forgets the script.
    proxy.freeze({ newConnections: 'forward' });
    const sends = Array.from({ length: 20 }, (_, i) =>
      sender.send(callbackMessage({ url: url(i + 2), state })),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await bed.admin.script('FLUSH');
    expect(await isCached(APPEND_BATCH_SCRIPT_SHA)).toBe(false);
    const acceptedBefore = proxy.accepted;
    proxy.restore();

    await Promise.all(sends);
    expect(proxy.accepted).toBeGreaterThan(acceptedBefore);
    await waitFor(() => seen.length === 22, 'every send');
    expect(seen).toEqual(Array.from({ length: 22 }, (_, n) => url(n)));
  });
});
