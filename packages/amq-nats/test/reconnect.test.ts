import { jetstreamManager } from '@nats-io/jetstream';
import { connect as connectNats } from '@nats-io/transport-node';
import { describeWithBroker, sleep, waitFor } from '@teal/amq-core/testing';
import { callbackMessage, type Message } from '@teal/messages';
import { expect, it } from 'vitest';
import type { NatsMode } from '../src/index';
import { encodeToken } from '../src/names';
import { defaultStreamName } from '../src/settings';
import { privateServerForFile, privateServerUnavailable } from './support/server';

const urlOf = (message: Message) => (message.kind === 'callback' ? message.url : '');

describeWithBroker('nats reconnect across a server restart', privateServerUnavailable(), () => {
  const { server, handler: connectHere } = privateServerForFile();
  const handler = (mode: NatsMode, prefix: string) =>
    connectHere({ mode, exchangePrefix: prefix, sendTimeoutMs: 60_000 });

  for (const mode of ['core', 'jetstream'] as const) {
    it(`${mode}: restores bindings after a restart${mode === 'jetstream' ? ' and delivers what was sent during it' : ''}`, async () => {
      const prefix = `restart-${mode}.`;
      const receiver = await handler(mode, prefix);
      const seen: string[] = [];
      receiver.callback = (message) => {
        seen.push(urlOf(message));
      };
      const [state, lateState] = ['state.1', 'state.late'];
      await receiver.bindCallbackState(state);
      const sender = await handler(mode, prefix);
      await sender.send(callbackMessage({ url: 'https://x.test/before', state }));
      await waitFor(() => seen.length === 1, 'the message sent before the restart');

      await server().kill();
      await waitFor(
        () => !receiver.isConnected && !sender.isConnected,
        'both handlers to notice the outage',
      );
      // Sent and bound while the server is down: both wait for it (sendTimeoutMs is 60 s).
      const during = mode === 'jetstream' ? 5 : 0;
      const sends = Array.from({ length: during }, (_, i) =>
        sender.send(callbackMessage({ url: `https://x.test/during=${i}`, state })),
      );
      const lateBind = receiver.bindCallbackState(lateState);
      await sleep(500);
      await server().restart();

      await Promise.all([...sends, lateBind]);
      await waitFor(
        () => receiver.isConnected && sender.isConnected,
        'both handlers to reconnect',
        30_000,
      );
      // Core NATS may miss a message while the subscription is being restored: probe first.
      const deadline = Date.now() + 30_000;
      for (
        let probe = 0;
        !seen.some((url) => url.includes('probe')) && Date.now() < deadline;
        probe++
      ) {
        await sender.send(callbackMessage({ url: `https://x.test/probe=${probe}`, state }));
        await sleep(200);
      }
      for (let i = 0; i < 10; i++) {
        await sender.send(
          callbackMessage({ url: `https://x.test/after=${i}`, state: i % 2 ? lateState : state }),
        );
      }
      await waitFor(
        () => seen.filter((url) => url.includes('after')).length === 10,
        'ten messages after',
        30_000,
      );
      await sleep(300);

      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((url) => url.includes('after'))).toEqual(
        Array.from({ length: 10 }, (_, i) => `https://x.test/after=${i}`),
      );
      expect(seen.filter((url) => url.includes('during'))).toEqual(
        Array.from({ length: during }, (_, i) => `https://x.test/during=${i}`),
      );
    }, 120_000);
  }

  it('jetstream: resumes delivery when its stream is deleted and created again', async () => {
    const prefix = 'recreated.';
    const receiver = await handler('jetstream', prefix);
    const seen: string[] = [];
    receiver.callback = (message) => {
      seen.push(urlOf(message));
    };
    await receiver.bindCallbackState('k');
    const sender = await handler('jetstream', prefix);
    await sender.send(callbackMessage({ url: 'https://x.test/first', state: 'k' }));
    await waitFor(() => seen.length === 1, 'the first message');

    const nc = await connectNats({ servers: `127.0.0.1:${server().port}` });
    await (await jetstreamManager(nc)).streams.delete(defaultStreamName(encodeToken(prefix)));
    await nc.close();
    // The sender creates the stream again; the receiver notices its consumer is gone
    // (no heartbeats), sees a new stream and reads it from its start.
    await sender.send(callbackMessage({ url: 'https://x.test/second', state: 'k' }));
    await waitFor(() => seen.length === 2, 'the message sent to the new stream', 60_000);
    await sleep(300);
    expect(seen).toEqual(['https://x.test/first', 'https://x.test/second']);
  }, 120_000);
});
