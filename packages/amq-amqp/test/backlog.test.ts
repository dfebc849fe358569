import type { AMQHandler } from '@teal/amq-core';
import {
  backlogOf,
  describeWithBroker,
  memoryFootprint,
  transportOf,
  waitFor,
} from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import type { AmqpTransport } from '../src/transport';
import { cleanupsAfterEach, handlerMaker, isolatedPrefix, probeRabbit } from './support/broker';

const unavailable = await probeRabbit();

const KiB = 1024;

describeWithBroker('amqp backlog: a stuck callback holds the broker back', unavailable, () => {
  const cleanups = cleanupsAfterEach();

  const handler = handlerMaker(cleanups);

  /** A callback stuck until `release()`, then recording the `n` of each message. */
  function stuck(target: AMQHandler): { seen: number[]; release: () => void } {
    const seen: number[] = [];
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    target.callback = async (message) => {
      await gate;
      if (message.kind === 'callback') {
        seen.push(Number(new URL(message.url).searchParams.get('n')));
      }
    };
    return { seen, release };
  }

  /** Sends `count` messages of about `bytes` each on one key, pipelined 500 at a time. */
  async function flood(sender: AMQHandler, state: string, count: number, bytes: number) {
    const padding = 'p'.repeat(bytes);
    for (let from = 0; from < count; from += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          sender.send(
            callbackMessage({ url: `https://x.test/cb?n=${from + i}&p=${padding}`, state }),
          ),
        ),
      );
    }
  }

  const cases = [
    {
      name: 'its message bound (maxBacklog 100, under the prefetch)',
      options: { maxBacklog: 100 },
      count: 10_000,
      bytes: 4 * KiB,
    },
    {
      name: 'its byte bound (maxBacklogBytes 64 KiB, 16 messages of 4 KiB)',
      options: { maxBacklogBytes: 64 * KiB },
      count: 10_000,
      bytes: 4 * KiB,
    },
    {
      name: 'its byte bound by cancelling its consumer (maxBacklogBytes 64 KiB, messages of 32 KiB)',
      options: { maxBacklogBytes: 64 * KiB },
      count: 2_000,
      bytes: 32 * KiB,
    },
  ];

  for (const { name, options, count, bytes } of cases) {
    it(`holds ${name} while ${count} messages arrive, then delivers them all in order`, async () => {
      const exchangePrefix = isolatedPrefix(cleanups);
      const receiver = await handler({ exchangePrefix, ...options });
      const sender = await handler({ exchangePrefix, sendTimeoutMs: 30_000 });
      const { seen, release } = stuck(receiver);
      await receiver.bindCallbackState('stuck');
      const before = await memoryFootprint();
      await flood(sender, 'stuck', count, bytes);
      const backlog = backlogOf(receiver);
      // Every message is on the broker: what the handler holds now is all it will hold.
      await waitFor(() => backlog.messages > 0, 'the first deliveries', 10_000);
      const heldMiB = ((await memoryFootprint()) - before) / 2 ** 20;
      console.log(
        `[teal] amqp, ${name}: after ${count} messages the stuck handler holds ${backlog.messages} (${backlog.bytes} bytes); memory ${heldMiB.toFixed(1)} MiB`,
      );
      expect(backlog.messages).toBeLessThanOrEqual(backlog.maxMessages);
      // What was on its way when the backlog filled up still lands: one prefetch window at most.
      expect(backlog.bytes).toBeLessThanOrEqual(backlog.maxBytes + 8 * (bytes + KiB));
      expect(backlog.overflowed).toBe(0);
      // All of them would be 40 MiB or more: the handler holds a few hundred at most.
      expect(heldMiB).toBeLessThan(8);
      const { queueName } = transportOf<AmqpTransport>(receiver).settings;
      const isConsuming = transportOf<AmqpTransport>(receiver)
        .resources()
        .includes(`consumer ${queueName}`);
      // Full on bytes, it consumes no more: the broker keeps the rest.
      expect(isConsuming).toBe(backlog.room > 0);
      release();
      await waitFor(() => seen.length >= count, `${count} deliveries`, 60_000);
      expect(seen).toEqual(Array.from({ length: count }, (_, n) => n));
      expect(backlog.overflowed).toBe(0);
    }, 120_000);
  }
});
