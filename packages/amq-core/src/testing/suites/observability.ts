import * as diagnostics from 'node:diagnostics_channel';
import { callbackMessage, encodeMessage } from '@teal/messages';
import { afterEach, describe, expect, it } from 'vitest';
import type { SuiteContext } from '../context';
import { publishRawForTesting, randomKey, waitFor } from '../helpers';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const TRACESTATE = 'teal=t61rcWkgMzE';

interface Recorded {
  readonly channel: string;
  readonly event: Record<string, unknown>;
}

export function observabilitySuite(suite: SuiteContext): void {
  const unsubscribes: Array<() => void> = [];
  afterEach(() => {
    for (const unsubscribe of unsubscribes.splice(0)) unsubscribe();
  });

  /** Records the events of `teal:amq:*` channels whose routing key is `key`. */
  const record = (key: string): Recorded[] => {
    const recorded: Recorded[] = [];
    const keep = (channel: string) => (message: unknown) => {
      const event = message as Record<string, unknown>;
      if (event.routingKey === key || (channel === 'drop' && event.exchange === 'callbacks')) {
        recorded.push({ channel, event });
      }
    };
    for (const name of ['send', 'deliver', 'bind', 'unbind']) {
      const listener = keep(`${name}:start`);
      diagnostics.subscribe(`tracing:teal:amq:${name}:start`, listener);
      unsubscribes.push(() => diagnostics.unsubscribe(`tracing:teal:amq:${name}:start`, listener));
      const done = keep(`${name}:asyncEnd`);
      diagnostics.subscribe(`tracing:teal:amq:${name}:asyncEnd`, done);
      unsubscribes.push(() => diagnostics.unsubscribe(`tracing:teal:amq:${name}:asyncEnd`, done));
    }
    const drop = keep('drop');
    diagnostics.subscribe('teal:amq:drop', drop);
    unsubscribes.push(() => diagnostics.unsubscribe('teal:amq:drop', drop));
    return recorded;
  };

  describe('diagnostics and trace context', () => {
    it('carries trace context as broker metadata beside the body, never in it', async () => {
      const state = randomKey('trace');
      const inject = (message: unknown) => {
        const event = message as { routingKey: string; headers: Record<string, string> };
        if (event.routingKey !== state) return;
        event.headers.traceparent = TRACEPARENT;
        event.headers.tracestate = TRACESTATE;
      };
      diagnostics.subscribe('tracing:teal:amq:send:start', inject);
      unsubscribes.push(() => diagnostics.unsubscribe('tracing:teal:amq:send:start', inject));
      const recorded = record(state);
      const receiver = await suite.handler();
      receiver.callback = () => {};
      await receiver.bind('callback', state);
      const sender = await suite.handler();
      const message = callbackMessage({ url: 'https://x.test/cb?traced', state });
      await sender.send(message);
      await waitFor(
        () => recorded.some(({ channel }) => channel === 'deliver:start'),
        'the delivery event',
      );
      const delivered = recorded.find(({ channel }) => channel === 'deliver:start')!.event;
      expect(delivered.headers).toMatchObject({ traceparent: TRACEPARENT, tracestate: TRACESTATE });
      // The body is the Python original's, to the byte: the context is not in it.
      expect(delivered.bodyBytes).toBe(new TextEncoder().encode(encodeMessage(message)).length);
      expect(delivered.message).toEqual(message);
    });

    it('publishes send, deliver, bind, unbind and drop events, with the reason of each drop', async () => {
      const state = randomKey('events');
      const recorded = record(state);
      const receiver = await suite.handler();
      receiver.callback = () => {};
      await receiver.bind('callback', state);
      const sender = await suite.handler();
      await sender.send(callbackMessage({ url: 'https://x.test/cb?1', state }));
      await publishRawForTesting(sender, 'callbacks', state, '{"not": "a message"}');
      await waitFor(
        () =>
          recorded.some(({ channel }) => channel === 'deliver:asyncEnd') &&
          recorded.some(
            ({ channel, event }) => channel === 'drop' && event.reason === 'undecodable',
          ),
        'a delivery and a drop',
      );
      await receiver.unbind('callback', state);
      const channels = new Set(recorded.map(({ channel }) => channel));
      for (const channel of [
        'bind:start',
        'bind:asyncEnd',
        'send:start',
        'send:asyncEnd',
        'deliver:start',
        'unbind:start',
      ]) {
        expect(channels).toContain(channel);
      }
      const send = recorded.find(({ channel }) => channel === 'send:start')!.event;
      expect(send).toMatchObject({ exchange: 'callbacks', kind: 'callback', routingKey: state });
      expect(typeof send.handlerId).toBe('string');
      expect(typeof send.adapter).toBe('string');
    });
  });
}
