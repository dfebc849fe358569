import { type AMQHandler, AMQSendError, AMQUnconfirmedSendError } from '@teal/amq-core';
import {
  describeWithBroker,
  FaultProxy,
  sleep,
  transportOf,
  waitFor,
} from '@teal/amq-core/testing';
import { callbackMessage, encodeMessage, type Message } from '@teal/messages';
import type { ConsumeMessage } from 'amqplib';
import { expect, it } from 'vitest';
import type { AmqpConnectOptions } from '../src/index';
import type { AmqpTransport } from '../src/transport';
import {
  AMQP_URL,
  cleanupsAfterEach,
  dropConnection,
  handlerMaker,
  isolatedPrefix,
  probeRabbit,
  rawConnection,
} from './support/broker';

const unavailable = await probeRabbit();

function callback(state: string, n: number): Message {
  return callbackMessage({ url: `https://x.test/cb?n=${n}`, state });
}

describeWithBroker('amqp reconnection', unavailable, () => {
  const cleanups = cleanupsAfterEach();

  const isolated = () => isolatedPrefix(cleanups);

  const handler = handlerMaker(cleanups, { onError: () => {} });

  async function proxied(exchangePrefix: string, options: Partial<AmqpConnectOptions> = {}) {
    const proxy = await FaultProxy.start(AMQP_URL);
    cleanups.push(() => proxy.stop());
    const created = await handler({ exchangePrefix, url: proxy.urlFor(AMQP_URL), ...options });
    return { proxy, handler: created };
  }

  /** Collects the `n` of each delivered callback message. */
  function numbers(target: AMQHandler, delayMs = 0): number[] {
    const seen: number[] = [];
    target.callback = async (message) => {
      if (message.kind !== 'callback') return;
      seen.push(Number(new URL(message.url).searchParams.get('n')));
      if (delayMs > 0) await sleep(delayMs);
    };
    return seen;
  }

  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

  it('delivers, once and in order, what was sent during a 2.5 s outage', async () => {
    const exchangePrefix = isolated();
    const { proxy, handler: receiver } = await proxied(exchangePrefix);
    const sender = await handler({ exchangePrefix });
    const seen = numbers(receiver);
    await receiver.bindCallbackState('k');
    await sender.send(callback('k', 0));
    await waitFor(() => seen.length === 1, 'the message before the outage');
    proxy.cut();
    const outage = sleep(2_500).then(() => proxy.restore());
    await waitFor(() => !receiver.isConnected, 'the receiver to notice the outage', 5_000);
    for (const n of range(1, 51)) await sender.send(callback('k', n));
    await outage;
    await waitFor(() => receiver.isConnected, 'the reconnection', 15_000);
    for (const n of range(51, 61)) await sender.send(callback('k', n));
    await waitFor(() => seen.length >= 61, '61 messages', 15_000);
    await sleep(300);
    expect(seen).toEqual(range(0, 61));
  });

  it('delivers each message once when the connection drops with deliveries unacknowledged', async () => {
    const exchangePrefix = isolated();
    const receiver = await handler({ exchangePrefix });
    const sender = await handler({ exchangePrefix });
    // A slow callback: the drop finds deliveries held by core and not yet acknowledged.
    const seen = numbers(receiver, 10);
    await receiver.bindCallbackState('slow');
    await Promise.all(range(0, 200).map((n) => sender.send(callback('slow', n))));
    await waitFor(() => seen.length >= 20, 'the first deliveries', 10_000);
    await dropConnection(receiver);
    await waitFor(() => receiver.isConnected, 'the reconnection', 15_000);
    await waitFor(() => seen.length >= 200, '200 messages', 20_000);
    await sleep(500);
    expect(seen).toEqual(range(0, 200));
  });

  it('holds a send during a short outage and resolves it once the broker has it', async () => {
    const exchangePrefix = isolated();
    const { proxy, handler: sender } = await proxied(exchangePrefix, { sendTimeoutMs: 15_000 });
    const receiver = await handler({ exchangePrefix });
    const seen = numbers(receiver);
    await receiver.bindCallbackState('k');
    proxy.cut();
    await waitFor(() => !sender.isConnected, 'the sender to notice the outage', 5_000);
    let isSettled = false;
    const pending = sender.send(callback('k', 7)).finally(() => {
      isSettled = true;
    });
    await sleep(1_000);
    expect(isSettled).toBe(false);
    proxy.restore();
    await pending;
    await waitFor(() => seen.length === 1, 'the message held during the outage');
    expect(seen).toEqual([7]);
  });

  it('rejects a send when the outage outlasts sendTimeoutMs, and never sends it later', async () => {
    const exchangePrefix = isolated();
    const { proxy, handler: sender } = await proxied(exchangePrefix, { sendTimeoutMs: 500 });
    const receiver = await handler({ exchangePrefix });
    const seen = numbers(receiver);
    await receiver.bindCallbackState('k');
    proxy.cut();
    await waitFor(() => !sender.isConnected, 'the sender to notice the outage', 5_000);
    await expect(sender.send(callback('k', 1))).rejects.toThrow(AMQSendError);
    proxy.restore();
    await waitFor(() => sender.isConnected, 'the reconnection', 15_000);
    await sender.send(callback('k', 2));
    await waitFor(() => seen.length >= 1, 'the message after the reconnection');
    await sleep(300);
    expect(seen).toEqual([2]);
  });

  it('settles every send in flight when the connection dies: confirmed ones were routed', async () => {
    const exchangePrefix = isolated();
    const receiver = await handler({ exchangePrefix });
    const seen = numbers(receiver);
    await receiver.bindCallbackState('k');
    const sender = await handler({ exchangePrefix, sendTimeoutMs: 20_000 });
    const sends = range(0, 3_000).map((n) => sender.send(callback('k', n)));
    transportOf<AmqpTransport>(sender).destroySocket();
    const outcomes = await Promise.allSettled(sends);
    const confirmed = range(0, 3_000).filter((n) => outcomes[n]!.status === 'fulfilled');
    // Those written before the socket died lost their confirm: rejected as such, never left hanging.
    expect(confirmed.length).toBeLessThan(3_000);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        expect(outcome.reason).toBeInstanceOf(AMQUnconfirmedSendError);
      }
    }
    // Every message the broker confirmed reaches the bound handler.
    await waitFor(
      () => {
        const delivered = new Set(seen);
        return confirmed.every((n) => delivered.has(n));
      },
      'confirmed messages',
      20_000,
    );
  });

  it('notices a silent peer by its heartbeats and reconnects', async () => {
    const exchangePrefix = isolated();
    const { proxy, handler: receiver } = await proxied(exchangePrefix, { heartbeatSeconds: 1 });
    const sender = await handler({ exchangePrefix });
    const seen = numbers(receiver);
    await receiver.bindCallbackState('k');
    const transport = transportOf<AmqpTransport>(receiver);
    // Open links go silent, new ones pass: only the heartbeat can tell.
    proxy.freeze({ newConnections: 'forward' });
    await waitFor(() => transport.lostConnections === 1, 'the heartbeat timeout', 15_000);
    await waitFor(() => receiver.isConnected, 'the reconnection', 15_000);
    await sender.send(callback('k', 1));
    await waitFor(() => seen.length === 1, 'the message after the reconnection');
  });

  it('reports a lost connection to onError without the password, then restores bindings', async () => {
    const exchangePrefix = isolated();
    const errors: unknown[] = [];
    const receiver = await handler({ exchangePrefix, onError: (error) => errors.push(error) });
    const sender = await handler({ exchangePrefix });
    const seen = numbers(receiver);
    await receiver.bindCallbackState('a');
    await receiver.bindCallbackState('b');
    await dropConnection(receiver);
    await waitFor(() => receiver.isConnected, 'the reconnection', 15_000);
    await sender.send(callback('a', 1));
    await sender.send(callback('b', 2));
    await waitFor(() => seen.length === 2, 'a message on each restored key');
    expect(errors.length).toBeGreaterThan(0);
    const password = new URL(AMQP_URL).password;
    for (const error of errors) {
      expect(String(error)).toMatch(/lost the connection/);
      if (password !== '') expect(String(error)).not.toContain(`:${password}@`);
    }
  });

  it('emits reconnected only once RabbitMQ routes its keys again, after its queue was deleted behind its back', async () => {
    const exchangePrefix = isolated();
    const receiver = await handler({ exchangePrefix });
    const seen = numbers(receiver);
    await receiver.bindCallbackState('a');
    await receiver.bindCallbackState('b');
    const model = await rawConnection(cleanups);
    const channel = await model.createConfirmChannel();
    const returned: string[] = [];
    channel.on('return', (message: ConsumeMessage) => returned.push(message.fields.routingKey));
    const events: string[] = [];
    const confirms: Promise<void>[] = [];
    receiver.on('disconnected', () => events.push('disconnected'));
    receiver.on('reconnected', () => {
      events.push('reconnected');
      // Published the instant the event fires: RabbitMQ returns it if no binding takes it.
      for (const [n, key] of ['a', 'b'].entries()) {
        const body = Buffer.from(encodeMessage(callback(key, n)));
        confirms.push(
          new Promise((resolve, reject) => {
            channel.publish(
              `${exchangePrefix}callbacks`,
              key,
              body,
              { mandatory: true },
              (error) => (error ? reject(error) : resolve()),
            );
          }),
        );
      }
    });
    // The queue goes with its bindings: the broker cancels the consumer, the handler reconnects.
    await channel.deleteQueue(transportOf<AmqpTransport>(receiver).settings.queueName);
    await waitFor(() => events.includes('reconnected'), 'the reconnected event', 15_000);
    await Promise.all(confirms);
    expect(events).toEqual(['disconnected', 'reconnected']);
    expect(returned).toEqual([]);
    await waitFor(() => seen.length === 2, 'both messages');
    expect(seen).toEqual([0, 1]);
  });
});
