import { describeWithBroker, randomPrefix, transportOf, waitFor } from '@teal/amq-core/testing';
import { openIDCIBACallbackMessage } from '@teal/messages';
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { connect } from '../src/index';
import type { RedisStreamsTransport } from '../src/transport';
import { pollBroker, REDIS_URL, unavailable } from './support/broker';

/** Far longer than the delivery the test waits for: only a woken reader can deliver in time. */
const BLOCK_MS = 30_000;

/** Whether the connection of this name is blocked in a command (CLIENT LIST flag `b`). */
async function isBlocked(admin: Redis, name: string): Promise<boolean> {
  const list = (await admin.client('LIST')) as string;
  return list
    .split('\n')
    .some((line) => line.includes(` name=${name} `) && / flags=\w*b/.test(line));
}

describeWithBroker('redis-streams reader wake-up', unavailable, () => {
  it('reads a newly bound stream at once, though the reader was blocked for 30 s', async () => {
    const exchangePrefix = randomPrefix();
    const receiver = await connect({ url: REDIS_URL, exchangePrefix, blockMs: BLOCK_MS });
    const sender = await connect({ url: REDIS_URL, exchangePrefix });
    const admin = new Redis(REDIS_URL);
    try {
      const received: string[] = [];
      receiver.callback = (message) => void received.push(message.kind);
      await receiver.bindCallbackState('first');
      const { reader } = transportOf<RedisStreamsTransport>(receiver).connectionNames;
      await pollBroker(() => isBlocked(admin, reader), 'the reader to block');

      // Another exchange: a stream the blocked XREAD does not list.
      await receiver.bindOpenIDCIBARequestIdentifier('second');
      await sender.send(openIDCIBACallbackMessage({ requestId: 'second' }));
      await waitFor(
        () => received.length === 1,
        'the message on the new stream, well before the block timeout',
        5_000,
      );
      expect(received).toEqual(['openid_ciba_callback']);
    } finally {
      admin.disconnect();
      await receiver.close();
      await sender.close();
    }
  });

  it('deletes its wake stream when it closes', async () => {
    const handler = await connect({
      url: REDIS_URL,
      exchangePrefix: randomPrefix(),
      blockMs: BLOCK_MS,
    });
    const admin = new Redis(REDIS_URL);
    try {
      const transport = transportOf<RedisStreamsTransport>(handler);
      const wakeStream = transport.keys.wakeStream(transport.handlerId);
      await handler.bindCallbackState('a');
      await pollBroker(
        async () => isBlocked(admin, transport.connectionNames.reader),
        'the reader to block',
      );
      await handler.bindPowensDomainWebhooks('b.biapi.pro');
      expect(await admin.exists(wakeStream)).toBe(1);
      expect(await admin.pttl(wakeStream)).toBeGreaterThan(0);
      await handler.close();
      await pollBroker(async () => (await admin.exists(wakeStream)) === 0, 'the wake stream to go');
    } finally {
      admin.disconnect();
      await handler.close();
    }
  });
});
