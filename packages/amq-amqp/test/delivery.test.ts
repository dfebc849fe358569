import {
  type AMQHandler,
  AMQRoutingKeyError,
  AMQSendError,
  AMQSettingsError,
  AMQUnconfirmedSendError,
} from '@teal/amq-core';
import { describeWithBroker, recordLogs, transportOf, waitFor } from '@teal/amq-core/testing';
import { callbackMessage, type Message } from '@teal/messages';
import { expect, it } from 'vitest';
import { AmqpConnectionError, connect } from '../src/index';
import type { AmqpTransport } from '../src/transport';
import {
  AMQP_URL,
  cleanupsAfterEach,
  handlerMaker,
  isolatedPrefix,
  probeRabbit,
  rawConnection,
} from './support/broker';

const unavailable = await probeRabbit();

function callback(state: string, n = 0): Message {
  return callbackMessage({ url: `https://x.test/cb?state=${n}`, state });
}

describeWithBroker('amqp delivery: acks, limits, refusals', unavailable, () => {
  const cleanups = cleanupsAfterEach();

  const raw = () => rawConnection(cleanups);

  const handler = handlerMaker(cleanups);

  /** Binds a full queue that rejects publishes to `key`: RabbitMQ nacks what it routes there. */
  async function refusingQueue(exchangePrefix: string, key: string): Promise<void> {
    const channel = await (await raw()).createChannel();
    const { queue } = await channel.assertQueue('', {
      exclusive: true,
      maxLength: 0,
      overflow: 'reject-publish',
    });
    await channel.bindQueue(queue, `${exchangePrefix}callbacks`, key);
  }

  const isolated = () => isolatedPrefix(cleanups);

  function collect(target: AMQHandler, states: string[], fail = false): void {
    target.callback = (message) => {
      if (message.kind === 'callback') states.push(message.url);
      if (fail) throw new Error('callback failure on purpose');
    };
  }

  it('acknowledges every delivery, failing callbacks included, with a small prefetch', async () => {
    const exchangePrefix = isolated();
    const errors: unknown[] = [];
    const receiver = await handler({ exchangePrefix, prefetch: 4, onError: (e) => errors.push(e) });
    const sender = await handler({ exchangePrefix });
    const urls: string[] = [];
    // Without acks the broker would stop after 4 deliveries.
    collect(receiver, urls, true);
    await receiver.bindCallbackState('burst');
    await Promise.all(Array.from({ length: 300 }, (_, n) => sender.send(callback('burst', n))));
    await waitFor(() => urls.length >= 300, '300 deliveries', 20_000);
    expect(new Set(urls).size).toBe(300);
    expect(errors).toHaveLength(300);
    const { queueName } = transportOf<AmqpTransport>(receiver).settings;
    const channel = await (await raw()).createChannel();
    await waitFor(
      async () => (await channel.checkQueue(queueName)).messageCount === 0,
      'every delivery acknowledged',
    );
  });

  it('takes routing keys of 255 UTF-8 bytes and rejects longer ones before publishing', async () => {
    const exchangePrefix = isolated();
    const target = await handler({ exchangePrefix });
    const urls: string[] = [];
    collect(target, urls);
    const longest = `${'é'.repeat(127)}a`;
    expect(Buffer.byteLength(longest)).toBe(255);
    await target.bindCallbackState(longest);
    await target.send(callback(longest));
    await waitFor(() => urls.length === 1, 'the message on the longest key');
    const tooLong = 'é'.repeat(128);
    await expect(target.send(callback(tooLong))).rejects.toThrow(AMQRoutingKeyError);
    await expect(target.send(callback(tooLong))).rejects.toThrow(/256 bytes.*255/);
    await expect(target.bindCallbackState(tooLong)).rejects.toThrow(AMQRoutingKeyError);
    expect(target.isConnected).toBe(true);
  });

  it('rejects a send that RabbitMQ refuses with a nack', async () => {
    const exchangePrefix = isolated();
    const target = await handler({ exchangePrefix });
    await refusingQueue(exchangePrefix, 'full');
    const refused = await target.send(callback('full')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AMQSendError);
    // Refused, not lost in a dying connection: it was not routed to that queue.
    expect(refused).not.toBeInstanceOf(AMQUnconfirmedSendError);
    await expect(target.send(callback('full'))).rejects.toThrow(/nack/);
    await target.send(callback('not-full'));
  });

  it('still delivers a refused send to the handlers bound beside the queue that refused it', async () => {
    const exchangePrefix = isolated();
    const sender = await handler({ exchangePrefix });
    const receiver = await handler({ exchangePrefix });
    const urls: string[] = [];
    collect(receiver, urls);
    await receiver.bindCallbackState('shared');
    await refusingQueue(exchangePrefix, 'shared');
    // RabbitMQ nacks what one queue refused, and routes it to the others: as the README says.
    await expect(sender.send(callback('shared', 1))).rejects.toThrow(/nack/);
    await waitFor(() => urls.length === 1, 'the refused message at the handler');
  });

  it('rejects a send whose channel RabbitMQ closes, then recovers with its bindings', async () => {
    const exchangePrefix = isolated();
    const errors: unknown[] = [];
    const target = await handler({ exchangePrefix, onError: (e) => errors.push(e) });
    const urls: string[] = [];
    collect(target, urls);
    await target.bindCallbackState('k');
    const channel = await (await raw()).createChannel();
    // Publishing to a missing exchange makes RabbitMQ close the channel (404).
    await channel.deleteExchange(`${exchangePrefix}callbacks`);
    await expect(target.send(callback('k', 1))).rejects.toThrow(AMQSendError);
    // The handler reconnects, redeclares the exchange and rebinds the key.
    await waitFor(() => target.isConnected, 'the reconnection', 10_000);
    await target.send(callback('k', 2));
    await waitFor(() => urls.length === 1, 'the message after the reconnection');
    expect(urls).toEqual(['https://x.test/cb?state=2']);
    expect(String(errors[0])).toMatch(/lost the connection/);
  });

  it('drops, with a warning, deliveries from an exchange that is not a TeaL one', async () => {
    const exchangePrefix = isolated();
    const { logger, records } = recordLogs();
    const warnings = () =>
      records
        .filter((record) => record.level === 'warn')
        .map((record) => `${record.message} ${JSON.stringify(record.fields)}`);
    const target = await handler({ exchangePrefix, logger });
    const urls: string[] = [];
    collect(target, urls);
    await target.bindCallbackState('k');
    const channel = await (await raw()).createChannel();
    const stray = `${exchangePrefix}stray`;
    await channel.assertExchange(stray, 'direct', { durable: false, autoDelete: true });
    await channel.bindQueue(transportOf<AmqpTransport>(target).settings.queueName, stray, 'k');
    channel.publish(stray, 'k', Buffer.from('{"secret":"token-value"}'));
    await target.send(callback('k', 1));
    await waitFor(
      () => urls.length === 1 && warnings().some((line) => line.includes(stray)),
      'the message and the warning',
    );
    expect(JSON.stringify(records)).not.toContain('token-value');
  });

  it('never shows the URL password in connection errors', async () => {
    const refused = connect({ url: 'amqp://guest:SECRETPW@127.0.0.1:1' });
    await expect(refused).rejects.toThrow(AmqpConnectionError);
    const error = (await refused.catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/cannot connect to amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1/);
    expect(JSON.stringify([error.message, (error.cause as Error).message])).not.toContain(
      'SECRETPW',
    );
    const url = new URL(AMQP_URL);
    url.password = 'WRONGSECRETPW';
    const denied = (await connect({ url: url.toString() }).catch((e: unknown) => e)) as Error;
    expect(denied).toBeInstanceOf(AmqpConnectionError);
    expect(denied.message).toMatch(/ACCESS_REFUSED|403/);
    expect(JSON.stringify([denied.message, (denied.cause as Error).message])).not.toContain(
      'WRONGSECRETPW',
    );
  });

  it('rejects bad settings naming the setting', async () => {
    await expect(connect({ url: AMQP_URL, prefetch: 0 })).rejects.toThrow(AMQSettingsError);
    await expect(connect({ url: AMQP_URL, prefetch: 0 })).rejects.toThrow(/prefetch/);
    await expect(connect({ url: AMQP_URL, queueExpiresMs: 1.5 })).rejects.toThrow(/queueExpiresMs/);
    await expect(connect({ url: AMQP_URL, heartbeatSeconds: -1 })).rejects.toThrow(
      /heartbeatSeconds/,
    );
    await expect(connect({ url: AMQP_URL, connectionName: '' })).rejects.toThrow(/connectionName/);
    await expect(connect({ url: 'redis://127.0.0.1' })).rejects.toThrow(/amqp: or amqps:/);
  });
});
