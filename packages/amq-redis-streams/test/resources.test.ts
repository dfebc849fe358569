import { describeWithBroker, transportOf, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import type { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { READER_LINGER_MS, type RedisStreamsTransport } from '../src/transport';
import { pollBroker, unavailable, useTestBed } from './support/broker';

/** The names of the connections Redis has now. */
async function connectionNames(admin: Redis): Promise<string[]> {
  const list = (await admin.client('LIST')) as string;
  return list.split('\n').map((line) => / name=(\S*)/.exec(line)?.[1] ?? '');
}

describeWithBroker('redis-streams resources of a handler', unavailable, () => {
  const bed = useTestBed();

  it('stops its reader and deletes its wake stream after the last unbind, and reads again at the next bind', async () => {
    const exchangePrefix = bed.prefix();
    const handler = await bed.connect({ exchangePrefix });
    const sender = await bed.connect({ exchangePrefix });
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
    expect(await bed.admin.exists(transport.wakeStream)).toBe(1);
    expect(await connectionNames(bed.admin)).toContain(transport.connectionNames.reader);

    await handler.unbindCallbackState('a');
    expect(transport.resources()).toEqual([`stream ${transport.wakeStream}`]);
    const unboundAt = Date.now();
    await pollBroker(
      async () =>
        (await bed.admin.exists(transport.wakeStream)) === 0 &&
        !(await connectionNames(bed.admin)).includes(transport.connectionNames.reader),
      'the reader and its wake stream to go',
    );
    expect(Date.now() - unboundAt).toBeGreaterThanOrEqual(READER_LINGER_MS - 50);
    expect(transport.resources()).toEqual([]);
    expect(handler.isConnected).toBe(true);

    await handler.bindCallbackState('b');
    await sender.send(callbackMessage({ url: 'https://x.test/cb?b', state: 'b' }));
    await waitFor(() => seen.includes('https://x.test/cb?b'), 'a message to the new reader');
    expect(await bed.admin.exists(transport.wakeStream)).toBe(1);
  });

  it('keeps its reader when a key is bound again within the linger', async () => {
    const handler = await bed.connect();
    const transport = transportOf<RedisStreamsTransport>(handler);
    await handler.bindCallbackState('a');
    await handler.unbindCallbackState('a');
    await handler.bindCallbackState('b');
    await new Promise((resolve) => setTimeout(resolve, READER_LINGER_MS + 500));
    expect(transport.resources()).toEqual([
      'binding callbacks b',
      `stream ${transport.wakeStream}`,
    ]);
    expect(await connectionNames(bed.admin)).toContain(transport.connectionNames.reader);
  });
});
