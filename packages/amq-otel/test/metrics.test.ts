import { publishRawForTesting, randomKey, transportOf, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { describe, expect, it } from 'vitest';
import { gauge, histogram, total, useHarness } from './support';

const harness = useHarness();
const CALLBACKS = { 'messaging.destination.name': 'callbacks', 'messaging.system': 'teal_memory' };

describe('metrics', () => {
  it('counts sent and delivered messages, with send and processing durations and the end-to-end latency', async () => {
    const h = harness();
    h.instrument();
    const state = randomKey('state');
    const receiver = await h.handler();
    let delivered = 0;
    receiver.callback = () => {
      delivered++;
    };
    await receiver.bind('callback', state);
    const sender = await h.handler();
    const sentAt = Date.now();
    for (let i = 0; i < 3; i++) {
      await sender.send(callbackMessage({ url: `https://app.test/cb?${i}`, state }));
    }
    await waitFor(() => delivered === 3 && h.spans().length === 6, 'three deliveries');
    const elapsed = (Date.now() - sentAt) / 1000;

    const sent = await h.metric('messaging.client.sent.messages');
    expect(total(sent, { ...CALLBACKS, 'messaging.operation.name': 'send' })).toBe(3);
    expect(sent?.descriptor.unit).toBe('{message}');
    const consumed = await h.metric('messaging.client.consumed.messages');
    expect(total(consumed, { ...CALLBACKS, 'messaging.operation.name': 'process' })).toBe(3);

    const sendDuration = histogram(await h.metric('messaging.client.operation.duration'), {
      ...CALLBACKS,
      'messaging.operation.type': 'send',
    });
    expect(sendDuration?.count).toBe(3);
    expect(sendDuration?.buckets.boundaries[0]).toBe(0.005);
    expect(histogram(await h.metric('messaging.process.duration'), CALLBACKS)?.count).toBe(3);

    const latency = histogram(await h.metric('teal.amq.message.latency'), CALLBACKS);
    expect(latency?.count).toBe(3);
    expect(latency?.max).toBeLessThanOrEqual(elapsed + 0.001);
  });

  it('counts a failed send with its error.type', async () => {
    const h = harness();
    h.instrument();
    const sender = await h.handler();
    const message = callbackMessage({ url: 'https://app.test/cb', state: randomKey('state') });
    await expect(sender.send(message, { signal: AbortSignal.abort() })).rejects.toThrow();
    const sent = await h.metric('messaging.client.sent.messages');
    const point = sent?.dataPoints[0];
    expect(point?.value).toBe(1);
    expect(point?.attributes['error.type']).toEqual(expect.any(String));
  });

  it('counts dropped messages by reason', async () => {
    const h = harness();
    h.instrument();
    const receiver = await h.handler();
    const state = randomKey('state');
    const dropped = async (reason: string) =>
      total(await h.metric('teal.amq.dropped.messages'), {
        ...CALLBACKS,
        'teal.amq.drop.reason': reason,
      });
    // Bound, but no callback and no listener: the message reaches no one.
    await receiver.bind('callback', state);
    await (await h.handler()).send(callbackMessage({ url: 'https://app.test/cb', state }));
    await eventually(async () => (await dropped('unbound')) === 1, 'the unbound drop');
    receiver.callback = () => {};
    await publishRawForTesting(receiver, 'callbacks', state, '{"not": "a message"}');
    await eventually(async () => (await dropped('undecodable')) === 1, 'the undecodable drop');
    expect(await dropped('unbound')).toBe(1);
  });

  it('gauges the bindings and the backlog of each handler', async () => {
    const h = harness();
    h.instrument();
    const receiver = await h.handler();
    const [first, second] = [randomKey('a'), randomKey('b')];
    await receiver.bind('callback', first);
    await receiver.bind('callback', second);
    const bindings = async () => gauge(await h.metric('teal.amq.bindings'), {});
    expect(await bindings()).toBe(2);

    // A slow callback: the messages behind it wait in the backlog.
    const releases: Array<() => void> = [];
    receiver.callback = () => new Promise<void>((resolve) => releases.push(resolve));
    const sender = await h.handler();
    for (let i = 0; i < 3; i++) {
      await sender.send(callbackMessage({ url: `https://app.test/cb?${i}`, state: first }));
    }
    await waitFor(() => releases.length === 1, 'the first callback');
    releases[0]!();
    await waitFor(() => releases.length === 2, 'the second callback');
    const backlog = async () => gauge(await h.metric('teal.amq.backlog'), {});
    expect(await backlog()).toBe(1);
    releases[1]!();
    await waitFor(() => releases.length === 3, 'the third callback');
    expect(await backlog()).toBe(0);
    releases[2]!();

    await receiver.unbind('callback', second);
    expect(await bindings()).toBe(1);

    // A closed handler holds nothing: its gauges go back to zero.
    await receiver.close();
    expect(await bindings()).toBe(0);
    expect(await backlog()).toBe(0);
  });

  it('counts reconnects', async () => {
    const h = harness();
    h.instrument();
    const handler = await h.handler();
    const reconnected = new Promise<void>((resolve) => handler.on('reconnected', resolve));
    (transportOf(handler) as unknown as { dropConnection(): void }).dropConnection();
    await reconnected;
    const reconnects = await h.metric('teal.amq.connection.reconnects');
    expect(total(reconnects, { 'messaging.system': 'teal_memory' })).toBe(1);
  });
});

async function eventually(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}
