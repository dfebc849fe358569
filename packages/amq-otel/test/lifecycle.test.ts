import * as diagnostics from 'node:diagnostics_channel';
import { AMQError, DIAGNOSTICS_CHANNELS } from '@teal/amq-core';
import { randomKey, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { describe, expect, it } from 'vitest';
import { AMQAlreadyInstrumentedError } from '../src/index';
import { useHarness } from './support';

const harness = useHarness();

function anyoneListens(): boolean {
  const { send, deliver, bind, unbind, drop, connection } = DIAGNOSTICS_CHANNELS;
  return (
    [send, deliver, bind, unbind].some((name) => diagnostics.tracingChannel(name).hasSubscribers) ||
    [drop, connection].some((name) => diagnostics.hasSubscribers(name))
  );
}

describe('lifecycle', () => {
  it('undoing unsubscribes from every channel, records nothing more, and is safe twice', async () => {
    const h = harness();
    expect(anyoneListens()).toBe(false);
    const undo = h.instrument();
    expect(anyoneListens()).toBe(true);
    undo();
    undo();
    expect(anyoneListens()).toBe(false);

    const state = randomKey('state');
    const receiver = await h.handler();
    let delivered = 0;
    receiver.callback = () => {
      delivered++;
    };
    await receiver.bind('callback', state);
    await (await h.handler()).send(callbackMessage({ url: 'https://app.test/cb', state }));
    await waitFor(() => delivered === 1, 'the delivery');
    expect(h.spans()).toEqual([]);
    expect(await h.metric('messaging.client.sent.messages')).toBeUndefined();
  });

  it('refuses a second instrumentation while one is active, and allows one after undo', () => {
    const h = harness();
    const undo = h.instrument();
    expect(() => h.instrument()).toThrow(AMQAlreadyInstrumentedError);
    expect(() => h.instrument()).toThrow(AMQError);
    expect(() => h.instrument()).toThrow(/already active/);
    undo();
    h.instrument();
  });

  it('ends the spans still open when undone', async () => {
    const h = harness();
    const undo = h.instrument();
    const state = randomKey('state');
    const receiver = await h.handler();
    let release = () => {};
    receiver.callback = () =>
      new Promise<void>((resolve) => {
        release = resolve;
      });
    await receiver.bind('callback', state);
    await (await h.handler()).send(callbackMessage({ url: 'https://app.test/cb', state }));
    await waitFor(() => h.spans().length === 1, 'the send span');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(h.spans().map((span) => span.name)).toEqual(['send callbacks']);
    undo();
    expect(h.spans().map((span) => span.name)).toEqual(['send callbacks', 'process callbacks']);
    release();
  });
});
