import { AMQBacklogOverflowError, type AMQHandler } from '@teal/amq-core';
import {
  backlogOf,
  describeWithBroker,
  memoryFootprint,
  probeBroker,
  randomKey,
  sleep,
  waitFor,
} from '@teal/amq-core/testing';
import { callbackMessage, type Message } from '@teal/messages';
import { expect, it } from 'vitest';
import type { NatsMode } from '../src/index';
import { NATS_URL } from './support/broker';
import { handlersOn } from './support/broker-handlers';

const TOTAL = 10_000;
const PADDING = 'x'.repeat(4 * 1024);
const MiB = 1024 * 1024;
const seqOf = (message: Message) =>
  message.kind === 'callback' ? Number(new URL(message.url).searchParams.get('seq')) : -1;

describeWithBroker('nats with a stuck callback', await probeBroker(NATS_URL), () => {
  const make = handlersOn();
  const handler = (mode: NatsMode, prefix: string, onError?: AMQHandler['onError']) =>
    make(mode, { exchangePrefix: prefix, ...(onError ? { onError } : {}) });

  /** A receiver whose callback blocks from the first message until `release()`. */
  async function stuckReceiver(mode: NatsMode, prefix: string) {
    const seen: number[] = [];
    const errors: unknown[] = [];
    let release = () => {};
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    const receiver = await handler(mode, prefix, (error) => errors.push(error));
    receiver.callback = async (message) => {
      seen.push(seqOf(message));
      await stuck;
    };
    await receiver.bindCallbackState('k');
    return { receiver, seen, errors, release };
  }

  /** Sends `TOTAL` 4 KiB messages, 200 in flight, sampling the receiver's backlog meanwhile. */
  async function flood(sender: AMQHandler, receiver: AMQHandler, from = 0): Promise<number> {
    let largest = 0;
    for (let batch = from; batch < from + TOTAL; batch += 200) {
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          sender.send(
            callbackMessage({ url: `https://x.test/?seq=${batch + i}&p=${PADDING}`, state: 'k' }),
          ),
        ),
      );
      largest = Math.max(largest, backlogOf(receiver).messages);
    }
    return largest;
  }

  it(`core: holds at most maxBacklog for a stuck callback while ${TOTAL} × 4 KiB arrive, and reports the overflow with its count`, async () => {
    const prefix = `backlog-core-${randomKey('p')}.`;
    const { receiver, seen, errors, release } = await stuckReceiver('core', prefix);
    const sender = await handler('core', prefix);
    const before = await memoryFootprint();
    const largest = await flood(sender, receiver);
    const backlog = backlogOf(receiver);
    await waitFor(
      () => backlog.messages + backlog.overflowed + seen.length >= TOTAL,
      'every message to reach the handler',
    );
    const growth = (await memoryFootprint()) - before;
    expect(largest).toBeLessThanOrEqual(backlog.maxMessages);
    // Unbounded, 10,000 × 4 KiB would hold more than 40 MiB.
    expect(growth).toBeLessThan(16 * MiB);
    expect(backlog.overflowed).toBeGreaterThan(0);
    const first = errors[0];
    expect(first).toBeInstanceOf(AMQBacklogOverflowError);

    release();
    await waitFor(() => backlog.messages === 0, 'the backlog to drain');
    // The next delivery ends the overflow, and its report carries the count.
    await sender.send(callbackMessage({ url: `https://x.test/?seq=${TOTAL}`, state: 'k' }));
    await waitFor(() => seen.at(-1) === TOTAL, 'the message after the overflow');
    const last = errors.at(-1) as AMQBacklogOverflowError;
    expect(last).toBeInstanceOf(AMQBacklogOverflowError);
    expect(last.dropped).toBe(backlog.overflowed);
    expect(seen.length + backlog.overflowed).toBe(TOTAL + 1);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    console.info(
      `[nats core] stuck callback, ${TOTAL} × 4 KiB: +${(growth / MiB).toFixed(1)} MiB, ` +
        `${backlog.overflowed} dropped and reported`,
    );
  }, 120_000);

  it(`jetstream: holds the stream back for a stuck callback while ${TOTAL} × 4 KiB arrive, then delivers all in order`, async () => {
    const prefix = `backlog-js-${randomKey('p')}.`;
    const { receiver, seen, errors, release } = await stuckReceiver('jetstream', prefix);
    const sender = await handler('jetstream', prefix);
    const before = await memoryFootprint();
    const largest = await flood(sender, receiver);
    await sleep(500);
    const backlog = backlogOf(receiver);
    const growth = (await memoryFootprint()) - before;
    expect(largest).toBeLessThanOrEqual(backlog.maxMessages);
    expect(backlog.messages).toBeLessThanOrEqual(backlog.maxMessages);
    expect(growth).toBeLessThan(16 * MiB);

    release();
    await waitFor(() => seen.length >= TOTAL, `all ${TOTAL} messages`, 60_000);
    await sleep(300);
    expect(backlog.overflowed).toBe(0);
    expect(errors).toEqual([]);
    expect(seen).toEqual(Array.from({ length: TOTAL }, (_, seq) => seq));
    console.info(
      `[nats jetstream] stuck callback, ${TOTAL} × 4 KiB: +${(growth / MiB).toFixed(1)} MiB, none dropped`,
    );
  }, 120_000);
});
