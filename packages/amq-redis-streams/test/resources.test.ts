import type { AMQHandler } from '@teal/amq-core';
import { describeWithBroker, randomPrefix, transportOf, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { connect } from '../src/index';
import { READER_LINGER_MS, type RedisStreamsTransport } from '../src/transport';
import { pollBroker, REDIS_URL, unavailable } from './support/broker';

/** The names of the connections Redis has now. */
async function connectionNames(admin: Redis): Promise<string[]> {
  const list = (await admin.client('LIST')) as string;
  return list.split('\n').map((line) => / name=(\S*)/.exec(line)?.[1] ?? '');
}

describeWithBroker('redis-streams resources of a handler', unavailable, () => {
  let admin: Redis;
  const handlers: AMQHandler[] = [];
  beforeAll(() => {
    admin = new Redis(REDIS_URL);
  });
  afterEach(async () => {
    await Promise.allSettled(handlers.splice(0).map((handler) => handler.close()));
  });
  afterAll(() => admin.disconnect());

  it('stops its reader and deletes its wake stream after the last unbind, and reads again at the next bind', async () => {
    const exchangePrefix = randomPrefix();
    const handler = await connect({ url: REDIS_URL, exchangePrefix });
    const sender = await connect({ url: REDIS_URL, exchangePrefix });
    handlers.push(handler, sender);
    const transport = transportOf<RedisStreamsTransport>(handler);
    const seen: string[] = [];
    handler.callback = (message) => {
      if (message.kind === 'callback') seen.push(message.url);
    };
    await handler.bindCallbackState('a');
    expect(transport.resources()).toEqual([
      'binding callbacks a',
      `stream ${transport.wakeStream}`,
    ]);
    expect(await admin.exists(transport.wakeStream)).toBe(1);
    expect(await connectionNames(admin)).toContain(transport.connectionNames.reader);

    await handler.unbindCallbackState('a');
    expect(transport.resources()).toEqual([`stream ${transport.wakeStream}`]);
    const unboundAt = Date.now();
    await pollBroker(
      async () =>
        (await admin.exists(transport.wakeStream)) === 0 &&
        !(await connectionNames(admin)).includes(transport.connectionNames.reader),
      'the reader and its wake stream to go',
    );
    expect(Date.now() - unboundAt).toBeGreaterThanOrEqual(READER_LINGER_MS - 50);
    expect(transport.resources()).toEqual([]);
    expect(handler.isConnected).toBe(true);

    await handler.bindCallbackState('b');
    await sender.send(callbackMessage({ url: 'https://x.test/cb?b', state: 'b' }));
    await waitFor(() => seen.includes('https://x.test/cb?b'), 'a message to the new reader');
    expect(await admin.exists(transport.wakeStream)).toBe(1);
  });

  it('keeps its reader when a key is bound again within the linger', async () => {
    const handler = await connect({ url: REDIS_URL, exchangePrefix: randomPrefix() });
    handlers.push(handler);
    const transport = transportOf<RedisStreamsTransport>(handler);
    await handler.bindCallbackState('a');
    await handler.unbindCallbackState('a');
    await handler.bindCallbackState('b');
    await new Promise((resolve) => setTimeout(resolve, READER_LINGER_MS + 500));
    expect(transport.resources()).toEqual([
      'binding callbacks b',
      `stream ${transport.wakeStream}`,
    ]);
    expect(await connectionNames(admin)).toContain(transport.connectionNames.reader);
  });
});
