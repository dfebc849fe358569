import type { AMQHandler } from '@teal/amq-core';
import {
  backlogOf,
  describeWithBroker,
  memoryFootprint,
  reportFigure,
  sleep,
  transportOf,
  waitFor,
} from '@teal/amq-core/testing';
import { callbackMessage, type Message } from '@teal/messages';
import { expect, it } from 'vitest';
import type { RedisStreamsTransport } from '../src/transport';
import { unavailable, useTestBed } from './support/broker';

const MiB = 1024 * 1024;
const PADDING = 'x'.repeat(4 * 1024);

function numberOf(message: Message): number {
  return message.kind === 'callback' ? Number(new URL(message.url).searchParams.get('n')) : -1;
}

/** A callback that records each message and then hangs until released. */
function stuckCallback(handler: AMQHandler): { received: number[]; release(): void } {
  let release = () => {};
  const stuck = new Promise<void>((resolve) => {
    release = resolve;
  });
  const received: number[] = [];
  handler.callback = async (message) => {
    received.push(numberOf(message));
    await stuck;
  };
  return { received, release };
}

describeWithBroker('redis-streams backpressure', unavailable, () => {
  const bed = useTestBed();
  const open = (exchangePrefix: string, options: { maxBacklog?: number } = {}) =>
    bed.connect({ exchangePrefix, sendTimeoutMs: 30_000, ...options });

  it('holds at most maxBacklog messages for a stuck callback while 10,000 arrive, then delivers all in order', async () => {
    const exchangePrefix = bed.prefix();
    const receiver = await open(exchangePrefix);
    const sender = await open(exchangePrefix);
    const { received, release } = stuckCallback(receiver);
    await receiver.bindCallbackState('stuck');
    const backlog = backlogOf(receiver);
    const before = await memoryFootprint();
    let most = 0;
    const watch = setInterval(() => {
      most = Math.max(most, backlog.messages);
    }, 1);
    try {
      for (let start = 0; start < 10_000; start += 500) {
        await Promise.all(
          Array.from({ length: 500 }, (_, i) =>
            sender.send(
              callbackMessage({
                url: `https://x.test/cb?n=${start + i}&p=${PADDING}`,
                state: 'stuck',
              }),
            ),
          ),
        );
      }
      let last = -1;
      await waitFor(
        () => {
          const isSettled = backlog.messages === last;
          last = backlog.messages;
          return isSettled && backlog.messages > 0;
        },
        'the backlog to settle',
        30_000,
      );
      await sleep(1_000);
      const grown = (await memoryFootprint()) - before;
      reportFigure(
        `redis-streams: a stuck callback after 10,000 messages of 4 KiB holds ${backlog.messages} (maxBacklog ${backlog.maxMessages}); memory +${(grown / MiB).toFixed(1)} MiB`,
      );
      expect(most).toBeLessThanOrEqual(backlog.maxMessages);
      expect(transportOf<RedisStreamsTransport>(receiver).appliesBackpressure).toBe(true);
      // 1,000 messages of 4 KiB are 4 MiB of bodies; all 10,000 would be 40 MiB and more.
      expect(grown).toBeLessThan(16 * MiB);
      expect(received).toEqual([0]);
    } finally {
      clearInterval(watch);
      release();
    }
    await waitFor(() => received.length === 10_000, 'all 10,000 messages', 60_000);
    expect(received).toEqual(Array.from({ length: 10_000 }, (_, n) => n));
    expect(most).toBeLessThanOrEqual(backlog.maxMessages);
  }, 120_000);

  it('shares the room among the streams it reads: never more than maxBacklog, whatever the number of streams', async () => {
    const exchangePrefix = bed.prefix();
    const maxBacklog = 10;
    const receiver = await open(exchangePrefix, { maxBacklog });
    const sender = await open(exchangePrefix);
    const { received, release } = stuckCallback(receiver);
    // Keys in all 16 buckets: more streams than the backlog has room for messages.
    const states = Array.from({ length: 60 }, (_, i) => `many-${i}`);
    await Promise.all(states.map((state) => receiver.bindCallbackState(state)));
    const backlog = backlogOf(receiver);
    let most = 0;
    const watch = setInterval(() => {
      most = Math.max(most, backlog.messages);
    }, 1);
    const count = 600;
    try {
      await Promise.all(
        Array.from({ length: count }, (_, n) =>
          sender.send(callbackMessage({ url: `https://x.test/cb?n=${n}`, state: states[n % 60]! })),
        ),
      );
      await waitFor(() => backlog.messages >= maxBacklog - 1, 'a full backlog', 30_000);
      await sleep(500);
      expect(most).toBeLessThanOrEqual(maxBacklog);
    } finally {
      clearInterval(watch);
      release();
    }
    await waitFor(() => received.length === count, `all ${count} messages`, 60_000);
    expect(new Set(received).size).toBe(count);
    // One sender, per key in send order.
    for (const state of states.slice(0, 5)) {
      const index = states.indexOf(state);
      const mine = received.filter((n) => n % 60 === index);
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
    expect(most).toBeLessThanOrEqual(maxBacklog);
  }, 120_000);
});
