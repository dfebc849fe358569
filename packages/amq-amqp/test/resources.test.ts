import { describeWithBroker, transportOf, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import type { AmqpTransport } from '../src/transport';
import { cleanupsAfterEach, handlerMaker, isolatedPrefix, probeRabbit } from './support/broker';
import { brokerResources } from './support/rabbitmqctl';

const unavailable = await probeRabbit();

describeWithBroker(
  'amqp resources: the queue lives only while the handler has bindings',
  unavailable,
  () => {
    const cleanups = cleanupsAfterEach();

    const handler = handlerMaker(cleanups);

    it('holds nothing on the broker when it only sends', async () => {
      const exchangePrefix = isolatedPrefix(cleanups);
      const sender = await handler({ exchangePrefix });
      await sender.send(callbackMessage({ url: 'https://x.test/cb', state: 'nobody' }));
      expect(await brokerResources(sender)).toEqual([]);
      expect(transportOf<AmqpTransport>(sender).resources()).toEqual([]);
    });

    it('reports what the broker holds for it: its queue, its consumer, its bindings', async () => {
      const exchangePrefix = isolatedPrefix(cleanups);
      const receiver = await handler({ exchangePrefix });
      await receiver.bindCallbackState('a');
      await receiver.bindPowensDomainWebhooks('b.biapi.pro');
      const { queueName } = transportOf<AmqpTransport>(receiver).settings;
      const expected = [
        'binding callbacks a',
        'binding powens_domain_webhooks b.biapi.pro',
        `consumer ${queueName}`,
        `queue ${queueName}`,
      ];
      expect(await brokerResources(receiver)).toEqual(expected);
      expect([...transportOf<AmqpTransport>(receiver).resources()].sort()).toEqual(expected);
    });

    it('leaves nothing on the broker after its last unbind', async () => {
      const exchangePrefix = isolatedPrefix(cleanups);
      const receiver = await handler({ exchangePrefix });
      await receiver.bindCallbackState('a');
      await receiver.bindCallbackState('b');
      await receiver.unbindCallbackState('a');
      await receiver.unbindCallbackState('b');
      const transport = transportOf<AmqpTransport>(receiver);
      await waitFor(() => transport.resources().length === 0, 'the queue to go', 10_000);
      expect(await brokerResources(receiver)).toEqual([]);
    });

    it('leaves nothing on the broker after close()', async () => {
      const exchangePrefix = isolatedPrefix(cleanups);
      const receiver = await handler({ exchangePrefix });
      await receiver.bindCallbackState('a');
      await receiver.close();
      expect(transportOf<AmqpTransport>(receiver).resources()).toEqual([]);
      expect(await brokerResources(receiver)).toEqual([]);
    });

    it('binds again after its queue went, and keeps the queue across quick unbind-bind churn', async () => {
      const exchangePrefix = isolatedPrefix(cleanups);
      const receiver = await handler({ exchangePrefix });
      const sender = await handler({ exchangePrefix });
      const seen: string[] = [];
      receiver.callback = (message) => {
        if (message.kind === 'callback') seen.push(message.state);
      };
      for (const key of ['one', 'two', 'three']) {
        await receiver.bindCallbackState(key);
        await sender.send(callbackMessage({ url: 'https://x.test/cb', state: key }));
        await waitFor(() => seen.includes(key), `the message on ${key}`, 10_000);
        await receiver.unbindCallbackState(key);
      }
      const transport = transportOf<AmqpTransport>(receiver);
      await waitFor(() => transport.resources().length === 0, 'the queue to go', 10_000);
      await receiver.bindCallbackState('four');
      await sender.send(callbackMessage({ url: 'https://x.test/cb', state: 'four' }));
      await waitFor(() => seen.includes('four'), 'the message on four', 10_000);
      expect(seen).toEqual(['one', 'two', 'three', 'four']);
    });
  },
);
