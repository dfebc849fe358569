import type { AMQHandler } from '@teal/amq-core';
import { describeWithBroker, sleep, transportOf, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { RedisStreamsConnectionError } from '../src/index';
import { READER_LINGER_MS, type RedisStreamsTransport } from '../src/transport';
import { dropConnections, pollBroker, REDIS_URL, unavailable, useTestBed } from './support/broker';

/** Every connection event of a handler, in order, with the error of each `disconnected`. */
function recordEvents(handler: AMQHandler): { names: string[]; errors: unknown[] } {
  const recorded = { names: [] as string[], errors: [] as unknown[] };
  handler.on('disconnected', (error) => {
    recorded.names.push('disconnected');
    recorded.errors.push(error);
  });
  handler.on('connected', () => recorded.names.push('connected'));
  handler.on('reconnected', () => recorded.names.push('reconnected'));
  return recorded;
}

describeWithBroker('redis-streams connection events', unavailable, () => {
  const bed = useTestBed();

  const pair = async () => {
    const exchangePrefix = bed.prefix();
    const receiver = await bed.connect({ exchangePrefix });
    const sender = await bed.connect({ exchangePrefix });
    receiver.onError = () => {};
    const seen: string[] = [];
    receiver.callback = (message) => {
      if (message.kind === 'callback') seen.push(message.url);
    };
    return { receiver, sender, seen };
  };

  it('is reconnected with its bindings restored: a message sent at the event is delivered', async () => {
    const { receiver, sender, seen } = await pair();
    await receiver.bindCallbackState('events');
    const events = recordEvents(receiver);
    let sentAtEvent: Promise<void> | null = null;
    receiver.on('reconnected', () => {
      sentAtEvent ??= sender.send(
        callbackMessage({ url: 'https://x.test/cb?at-event', state: 'events' }),
      );
    });
    await dropConnections(receiver, [REDIS_URL]);
    await waitFor(() => events.names.includes('reconnected'), 'a reconnected event', 30_000);
    await sentAtEvent;
    await waitFor(
      () => seen.includes('https://x.test/cb?at-event'),
      'the message sent at the event',
    );
    expect(events.names).toEqual(['disconnected', 'connected', 'reconnected']);
    expect(events.errors[0]).toBeInstanceOf(RedisStreamsConnectionError);
    expect(String(events.errors[0])).toMatch(/lost the (command|reader) connection to Redis/);
  });

  it('is disconnected while its reader alone is down, then reconnected', async () => {
    const { receiver } = await pair();
    await receiver.bindCallbackState('reader-only');
    const events = recordEvents(receiver);
    const { reader } = transportOf<RedisStreamsTransport>(receiver).connectionNames;
    let id: string | undefined;
    await pollBroker(async () => {
      const list = (await bed.admin.client('LIST')) as string;
      id = list
        .split('\n')
        .find((line) => line.includes(` name=${reader} `))
        ?.match(/^id=(\d+)/)?.[1];
      return id !== undefined;
    }, 'the reader connection');
    await bed.admin.client('KILL', 'ID', id!);
    await waitFor(() => events.names.includes('reconnected'), 'a reconnected event', 30_000);
    expect(events.names).toEqual(['disconnected', 'connected', 'reconnected']);
    expect(String(events.errors[0])).toMatch(/lost the reader connection/);
  });

  it('emits nothing when its idle reader stops after the last unbind, nor when a new one starts', async () => {
    const { receiver, sender, seen } = await pair();
    const events = recordEvents(receiver);
    await receiver.bindCallbackState('idle');
    await receiver.unbindCallbackState('idle');
    await sleep(READER_LINGER_MS + 500);
    expect(transportOf<RedisStreamsTransport>(receiver).resources()).toEqual([]);
    await receiver.bindCallbackState('again');
    await sender.send(callbackMessage({ url: 'https://x.test/cb?again', state: 'again' }));
    await waitFor(() => seen.includes('https://x.test/cb?again'), 'a message to the new reader');
    expect(events.names).toEqual([]);
    expect(receiver.isConnected).toBe(true);
  });
});
