import type { AMQHandler } from '@teal/amq-core';
import { backlogOf, describeWithBroker, memoryFootprint } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { type AmqpConnectOptions, connect } from '../src/index';
import { AMQP_URL, cleanupsAfterEach, isolatedPrefix, rabbitUnavailable, waitFor } from './broker';

const unavailable = await rabbitUnavailable();

const COUNT = 10_000;
const PADDING = 'p'.repeat(4_096);

describeWithBroker('amqp backlog: a stuck callback holds the broker back', unavailable, () => {
  const cleanups = cleanupsAfterEach();

  async function handler(options: Partial<AmqpConnectOptions> & { exchangePrefix: string }) {
    const created = await connect({ url: AMQP_URL, ...options });
    cleanups.push(() => created.close());
    return created;
  }

  /** A callback stuck until `release()`, then recording the `n` of each message. */
  function stuck(target: AMQHandler): { seen: number[]; release: () => void } {
    const seen: number[] = [];
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    target.callback = async (message) => {
      await gate;
      if (message.kind === 'callback')
        seen.push(Number(new URL(message.url).searchParams.get('n')));
    };
    return { seen, release };
  }

  /** Sends `COUNT` messages of 4 KiB on one key, pipelined 500 at a time. */
  async function flood(sender: AMQHandler, state: string): Promise<void> {
    for (let from = 0; from < COUNT; from += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          sender.send(
            callbackMessage({ url: `https://x.test/cb?n=${from + i}&p=${PADDING}`, state }),
          ),
        ),
      );
    }
  }

  const cases: Array<{ name: string; options: Partial<AmqpConnectOptions> }> = [
    {
      name: 'its message bound (maxBacklog 100, under the prefetch)',
      options: { maxBacklog: 100 },
    },
    {
      name: 'its byte bound (maxBacklogBytes 64 KiB, 16 messages)',
      options: { maxBacklogBytes: 64 * 1024 },
    },
  ];

  for (const { name, options } of cases) {
    it(`holds ${name} while ${COUNT} messages of 4 KiB arrive, then delivers them all in order`, async () => {
      const exchangePrefix = isolatedPrefix(cleanups);
      const receiver = await handler({ exchangePrefix, ...options });
      const sender = await handler({ exchangePrefix });
      const { seen, release } = stuck(receiver);
      await receiver.bindCallbackState('stuck');
      const before = await memoryFootprint();
      await flood(sender, 'stuck');
      const backlog = backlogOf(receiver);
      // Every message is on the broker: what the handler holds now is all it will hold.
      await waitFor(() => backlog.messages > 0, 10_000, 'the first deliveries');
      const heldMiB = ((await memoryFootprint()) - before) / 2 ** 20;
      expect(backlog.messages).toBeLessThanOrEqual(backlog.maxMessages);
      // Past the byte bound, what is already on its way (one prefetch window at most) still lands.
      expect(backlog.bytes).toBeLessThanOrEqual(backlog.maxBytes + 256 * 5_000);
      expect(backlog.overflowed).toBe(0);
      // 10,000 messages of 4 KiB are 40 MiB: the handler holds a few hundred at most.
      expect(heldMiB).toBeLessThan(8);
      release();
      await waitFor(() => seen.length >= COUNT, 60_000, `${COUNT} deliveries`);
      expect(seen).toEqual(Array.from({ length: COUNT }, (_, n) => n));
      expect(backlog.overflowed).toBe(0);
    }, 120_000);
  }
});
