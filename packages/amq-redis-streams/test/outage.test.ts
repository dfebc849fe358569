import { AMQSendError } from '@teal/amq-core';
import { describeWithBroker, waitFor } from '@teal/amq-core/testing';
import { callbackMessage, type Message } from '@teal/messages';
import { expect, it } from 'vitest';
import { connect } from '../src/index';
import { useTestBed } from './support/broker';
import { redisServerMissing, usePrivateRedis } from './support/server';

describeWithBroker('redis-streams outage of a private server', await redisServerMissing(), () => {
  const redis = usePrivateRedis();
  const bed = useTestBed(() => redis.server.url);
  const open = async (sendTimeoutMs: number) => {
    const handler = await bed.connect({ sendTimeoutMs });
    handler.onError = () => {};
    return handler;
  };

  it('holds a send until the server is back, and delivers it', async () => {
    const exchangePrefix = bed.prefix();
    const receiver = await bed.connect({ exchangePrefix, sendTimeoutMs: 30_000 });
    const sender = await bed.connect({ exchangePrefix, sendTimeoutMs: 30_000 });
    receiver.onError = sender.onError = () => {};
    const received: Message[] = [];
    receiver.callback = (message) => void received.push(message);
    await receiver.bindCallbackState('outage');
    await sender.send(callbackMessage({ url: 'https://x.test/cb?before', state: 'outage' }));
    await waitFor(() => received.length === 1, 'the message before the outage');

    await redis.server.kill();
    await waitFor(() => !sender.isConnected, 'the sender to see the outage');
    let isSent = false;
    const during = sender.send(
      callbackMessage({ url: 'https://x.test/cb?during', state: 'outage' }),
    );
    void during.then(() => {
      isSent = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(isSent).toBe(false);

    await redis.server.restart();
    await during;
    await waitFor(() => received.length === 2, 'the message sent during the outage', 30_000);
    expect(received.map((message) => (message.kind === 'callback' ? message.url : ''))).toEqual([
      'https://x.test/cb?before',
      'https://x.test/cb?during',
    ]);
  });

  it('rejects a send once its timeout passes with the server down', async () => {
    const sender = await open(300);
    await redis.server.kill();
    await waitFor(() => !sender.isConnected, 'the sender to see the outage');
    await expect(
      sender.send(callbackMessage({ url: 'https://x.test/cb', state: 's' })),
    ).rejects.toBeInstanceOf(AMQSendError);
    await expect(sender.bindCallbackState('s')).rejects.toThrow(
      /bindCallbackState\(\) on callbacks: no answer from the broker within 300 ms/,
    );
  });

  it('closes while the server is down, releasing what waits', async () => {
    const handler = await open(60_000);
    await handler.bindCallbackState('down');
    await redis.server.kill();
    await waitFor(() => !handler.isConnected, 'the handler to see the outage');
    const pending = handler.send(callbackMessage({ url: 'https://x.test/cb', state: 'down' }));
    const rejected = expect(pending).rejects.toThrow(/closed/);
    await handler.close();
    await rejected;
    expect(handler.isConnected).toBe(false);
  });

  it('fails to connect with an error that names the server but not the password', async () => {
    await redis.server.kill();
    const url = `redis://user:hunter2-secret@127.0.0.1:${redis.server.port}`;
    const attempt = connect({ url, exchangePrefix: 'x.' });
    await expect(attempt).rejects.toThrow(
      /could not connect to Redis at redis:\/\/127\.0\.0\.1:\d+/,
    );
    await expect(attempt).rejects.not.toThrow(/hunter2/);
  });
});
