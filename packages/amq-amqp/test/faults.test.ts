import { type AMQHandler, AMQSendError } from '@teal/amq-core';
import {
  describeWithBroker,
  FaultProxy,
  memoryFootprint,
  sleep,
  transportOf,
  waitFor,
} from '@teal/amq-core/testing';
import { callbackMessage, powensWebhookMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import type { AmqpConnectOptions } from '../src/index';
import type { AmqpTransport } from '../src/transport';
import {
  AMQP_URL,
  cleanupsAfterEach,
  handlerMaker,
  isolatedPrefix,
  probeRabbit,
} from './support/broker';
import { brokerBindings, brokerResources } from './support/rabbitmqctl';

const unavailable = await probeRabbit();

describeWithBroker(
  'amqp faults: outages, half-open links, what a rejected send leaves',
  unavailable,
  () => {
    const cleanups = cleanupsAfterEach();

    const handler = handlerMaker(cleanups, { onError: () => {} });

    async function behindFaultProxy(
      options: Partial<AmqpConnectOptions> & { exchangePrefix: string },
    ) {
      const proxy = await FaultProxy.start(AMQP_URL);
      cleanups.push(() => proxy.stop());
      return { proxy, handler: await handler({ ...options, url: proxy.urlFor(AMQP_URL) }) };
    }

    /** Core's bindings of a handler as `binding <exchange> <key>` lines, sorted. */
    function coreBindings(keys: readonly string[]): string[] {
      return keys.map((key) => `binding callbacks ${key}`).sort();
    }

    async function reconnected(target: AMQHandler, lostBefore: number): Promise<void> {
      const transport = transportOf<AmqpTransport>(target);
      await waitFor(
        () => transport.lostConnections > lostBefore && target.isConnected,
        'the reconnection',
        20_000,
      );
    }

    it('leaves on the broker exactly the bindings core has after a key was unbound during an outage', async () => {
      const exchangePrefix = isolatedPrefix(cleanups);
      const { proxy, handler: receiver } = await behindFaultProxy({ exchangePrefix });
      await receiver.bindCallbackState('kept');
      await receiver.bindCallbackState('dropped');
      expect(await brokerBindings(receiver)).toEqual(coreBindings(['dropped', 'kept']));
      proxy.cut();
      await waitFor(() => !receiver.isConnected, 'the handler to notice the cut', 10_000);
      await receiver.unbindCallbackState('dropped');
      proxy.restore();
      await reconnected(receiver, 0);
      // Not a race with a slow broker: the bindings are restored before isConnected turns true.
      await sleep(500);
      expect(await brokerBindings(receiver)).toEqual(coreBindings(['kept']));
    });

    it('leaves on the broker exactly the bindings core has after an unbind whose RPC never got an answer', async () => {
      const exchangePrefix = isolatedPrefix(cleanups);
      const { proxy, handler: receiver } = await behindFaultProxy({
        exchangePrefix,
        sendTimeoutMs: 1_000,
      });
      await receiver.bindCallbackState('kept');
      await receiver.bindCallbackState('dropped');
      proxy.freeze();
      // The unbind goes into a half-open connection: no answer, it fails at its deadline.
      await expect(receiver.unbindCallbackState('dropped')).rejects.toThrow();
      proxy.restore();
      await reconnected(receiver, 0);
      await sleep(500);
      expect(await brokerBindings(receiver)).toEqual(coreBindings(['kept']));
    });

    it('leaves on the broker exactly the bindings core has after a bind that lands past its deadline', async () => {
      const exchangePrefix = isolatedPrefix(cleanups);
      const { proxy, handler: receiver } = await behindFaultProxy({
        exchangePrefix,
        sendTimeoutMs: 800,
      });
      await receiver.bindCallbackState('kept');
      proxy.stall();
      await expect(receiver.bindCallbackState('late')).rejects.toThrow();
      // The link heals before the heartbeat gives up on it: the bind lands, late.
      proxy.heal();
      await waitFor(
        async () => (await brokerBindings(receiver)).join() === coreBindings(['kept']).join(),
        "the broker to hold exactly core's bindings",
        10_000,
      );
      expect(receiver.isConnected).toBe(true);
    });

    for (const isNoticed of [true, false]) {
      it(`deletes its queue when closed during an outage that ends before the close deadline (the cut ${isNoticed ? 'noticed' : 'not noticed yet'})`, async () => {
        const exchangePrefix = isolatedPrefix(cleanups);
        const { proxy, handler: receiver } = await behindFaultProxy({
          exchangePrefix,
          sendTimeoutMs: 8_000,
        });
        await receiver.bindCallbackState('k');
        proxy.cut();
        if (isNoticed) {
          await waitFor(() => !receiver.isConnected, 'the handler to notice the cut', 10_000);
        }
        const closing = receiver.close();
        await sleep(1_000);
        proxy.restore();
        await closing;
        expect(transportOf<AmqpTransport>(receiver).resources()).toEqual([]);
        expect(await brokerResources(receiver)).toEqual([]);
      });
    }

    it('closes at once when its connection died a moment before, unnoticed', async () => {
      const exchangePrefix = isolatedPrefix(cleanups);
      const { proxy, handler: sender } = await behindFaultProxy({
        exchangePrefix,
        sendTimeoutMs: 20_000,
      });
      await proxy.stop();
      const started = performance.now();
      await sender.close();
      // amqplib never settles a close whose socket died: the adapter must not wait for its deadline.
      expect(performance.now() - started).toBeLessThan(2_000);
    });

    it('releases the bodies of sends rejected during an outage at once, not at reconnection', async () => {
      const exchangePrefix = isolatedPrefix(cleanups);
      const { proxy, handler: sender } = await behindFaultProxy({
        exchangePrefix,
        sendTimeoutMs: 300,
      });
      proxy.cut();
      await waitFor(() => !sender.isConnected, 'the handler to notice the cut', 10_000);
      const payload = 'x'.repeat(10_000);
      const before = await memoryFootprint();
      for (let batch = 0; batch < 4; batch++) {
        const sends = Array.from({ length: 1_000 }, (_, i) =>
          sender.send(
            powensWebhookMessage({
              domain: 'memory.biapi.pro',
              event: `E${batch}-${i}`,
              userToken: null,
              payload,
            }),
          ),
        );
        const outcomes = await Promise.allSettled(sends);
        expect(outcomes.every((outcome) => outcome.status === 'rejected')).toBe(true);
      }
      const grownMiB = ((await memoryFootprint()) - before) / 2 ** 20;
      console.log(
        `[teal] amqp: 4,000 sends of 10 KB rejected during an outage: ${grownMiB.toFixed(1)} MiB`,
      );
      // 4,000 bodies of 10 KB are 40 MB; what a rejected send leaves behind is a few bytes.
      expect(grownMiB).toBeLessThan(12);
      proxy.restore();
    });

    /** A sender behind a proxy with a short deadline, and a receiver of key `k` beside it. */
    async function senderAndReceiver() {
      const exchangePrefix = isolatedPrefix(cleanups);
      const { proxy, handler: sender } = await behindFaultProxy({
        exchangePrefix,
        sendTimeoutMs: 800,
      });
      const receiver = await handler({ exchangePrefix });
      const seen: string[] = [];
      receiver.callback = (message) => {
        if (message.kind === 'callback') seen.push(message.url);
      };
      await receiver.bindCallbackState('k');
      const rejectedSend = () =>
        expect(
          sender.send(callbackMessage({ url: 'https://x.test/cb?rejected', state: 'k' })),
        ).rejects.toBeInstanceOf(AMQSendError);
      return { proxy, sender, seen, rejectedSend };
    }

    it('never delivers a send that rejected on a half-open connection, once the connection is back', async () => {
      const { proxy, sender, seen, rejectedSend } = await senderAndReceiver();
      proxy.freeze();
      await rejectedSend();
      proxy.restore();
      await waitFor(() => sender.isConnected, 'the sender to be connected', 20_000);
      await waitFor(
        async () => {
          // A send may still meet the connection the reset killed: only a delivered one counts.
          await sender
            .send(callbackMessage({ url: 'https://x.test/cb?after', state: 'k' }))
            .catch(() => {});
          return seen.includes('https://x.test/cb?after');
        },
        'a send after recovery to be delivered',
        20_000,
      );
      await sleep(500);
      expect(seen).not.toContain('https://x.test/cb?rejected');
    });

    it('never delivers a send that rejected on a stalled connection, even when the network comes back with it', async () => {
      const { proxy, sender, seen, rejectedSend } = await senderAndReceiver();
      proxy.stall();
      await rejectedSend();
      // The partition heals well within the heartbeat timeout: TCP would deliver what it held.
      await sleep(200);
      proxy.heal();
      await sender.send(callbackMessage({ url: 'https://x.test/cb?after', state: 'k' }));
      await waitFor(() => seen.includes('https://x.test/cb?after'), 'the send after', 10_000);
      await sleep(500);
      expect(seen).not.toContain('https://x.test/cb?rejected');
    });
  },
);
