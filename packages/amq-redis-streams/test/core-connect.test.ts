import { connect as connectByUrl } from '@teal/amq-core';
import { describeWithBroker, randomPrefix, transportOf, waitFor } from '@teal/amq-core/testing';
import { callbackMessage, type Message } from '@teal/messages';
import { expect, it } from 'vitest';
import type { RedisStreamsTransport } from '../src/transport';
import { REDIS_URL, unavailable } from './support/broker';

describeWithBroker("@teal/amq-core's connect() with a redis: URL", unavailable, () => {
  it('loads this adapter, with its settings riding on the URL', async () => {
    const url = `${REDIS_URL}${REDIS_URL.includes('?') ? '&' : '?'}buckets=4&retentionMs=90000`;
    const exchangePrefix = randomPrefix();
    const handler = await connectByUrl({ url, exchangePrefix });
    try {
      expect(transportOf<RedisStreamsTransport>(handler).keys.buckets).toBe(4);
      const received: Message[] = [];
      handler.callback = (message) => void received.push(message);
      await handler.bindCallbackState('by-url');
      await handler.send(callbackMessage({ url: 'https://x.test/cb', state: 'by-url' }));
      await waitFor(() => received.length === 1, 'the message');
    } finally {
      await handler.close();
    }
  });
});
