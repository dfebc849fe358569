import { EXCHANGE_NAMES } from '@teal/amq-core';
import { describeWithBroker, transportOf, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { connect } from '../src/index';
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

describeWithBroker('amqp topology: exchanges and the handler queue', unavailable, () => {
  const cleanups = cleanupsAfterEach();

  const raw = () => rawConnection(cleanups);

  const handler = handlerMaker(cleanups);

  it('connects to exchanges a Python peer declared first (direct, not durable, not auto-delete)', async () => {
    const prefix = isolatedPrefix(cleanups);
    const channel = await (await raw()).createChannel();
    for (const name of EXCHANGE_NAMES) {
      await channel.assertExchange(prefix + name, 'direct', { durable: false, autoDelete: false });
    }
    const received: string[] = [];
    const created = await handler({ exchangePrefix: prefix });
    created.callback = (message) => {
      if (message.kind === 'callback') received.push(message.state);
    };
    await created.bindCallbackState('k');
    await created.send(callbackMessage({ url: 'https://x.test/cb?state=k', state: 'k' }));
    await waitFor(() => received.length === 1, 'the message');
  });

  it('declares the exchanges with the flags a Python peer redeclares them with', async () => {
    const prefix = isolatedPrefix(cleanups);
    await handler({ exchangePrefix: prefix });
    const channel = await (await raw()).createChannel();
    for (const name of EXCHANGE_NAMES) {
      await channel.assertExchange(prefix + name, 'direct', { durable: false, autoDelete: false });
    }
    // Other flags are refused, which proves the handler declared these ones.
    const strict = await (await raw()).createChannel();
    strict.on('error', () => {});
    await expect(
      strict.assertExchange(`${prefix}callbacks`, 'direct', { durable: true }),
    ).rejects.toThrow(/PRECONDITION_FAILED/);
  });

  it('gives its queue x-expires, no durability and no exclusivity', async () => {
    const prefix = isolatedPrefix(cleanups);
    const created = await handler({ exchangePrefix: prefix, queueExpiresMs: 45_000 });
    await created.bindCallbackState('k');
    const { queueName } = transportOf<AmqpTransport>(created).settings;
    // Redeclaring with the same arguments from another connection succeeds only
    // for a non-exclusive queue whose arguments match exactly.
    const channel = await (await raw()).createChannel();
    await channel.assertQueue(queueName, { durable: false, autoDelete: false, expires: 45_000 });
    const other = await (await raw()).createChannel();
    other.on('error', () => {});
    await expect(
      other.assertQueue(queueName, { durable: false, autoDelete: false, expires: 30_000 }),
    ).rejects.toThrow(/PRECONDITION_FAILED/);
  });

  it('deletes its queue on close', async () => {
    const prefix = isolatedPrefix(cleanups);
    const created = await connect({ url: AMQP_URL, exchangePrefix: prefix });
    await created.bindCallbackState('k');
    const { queueName } = transportOf<AmqpTransport>(created).settings;
    const channel = await (await raw()).createChannel();
    await channel.checkQueue(queueName);
    await created.close();
    const check = await (await raw()).createChannel();
    check.on('error', () => {});
    await expect(check.checkQueue(queueName)).rejects.toThrow(/NOT_FOUND/);
  });

  it('names its connection and queue after the prefix and a handler id', async () => {
    const prefix = isolatedPrefix(cleanups);
    const created = await handler({ exchangePrefix: prefix });
    const { connectionName, queueName, handlerId } = transportOf<AmqpTransport>(created).settings;
    expect(connectionName).toBe(`teal-amqp/${prefix}/${handlerId}`);
    expect(queueName).toBe(`teal.${prefix}.${handlerId}`);
  });
});
