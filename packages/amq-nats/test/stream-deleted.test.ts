import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect as connectNats } from '@nats-io/transport-node';
import { describeWithBroker, Inbox, probeBroker, randomKey, waitFor } from '@teal/amq-core/testing';
import { expect, it } from 'vitest';
import { encodeToken } from '../src/names';
import { defaultStreamName } from '../src/settings';
import { NATS_URL } from './support/broker';
import { handlersOn, sendTo, urlsOf } from './support/broker-handlers';

/** Runs `work` with a JetStream manager of the test's own on the shared server. */
async function withManager<T>(work: (jsm: JetStreamManager) => Promise<T>): Promise<T> {
  const nc = await connectNats({ servers: new URL(NATS_URL).host });
  try {
    return await work(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

const streamOf = (prefix: string) => defaultStreamName(encodeToken(prefix));

/** Deletes a prefix's stream as an operator would (`nats stream rm`), behind the handlers' backs. */
async function deleteStreamOf(prefix: string): Promise<void> {
  const deleted = await withManager((jsm) => jsm.streams.delete(streamOf(prefix)));
  expect(deleted).toBe(true);
}

describeWithBroker(
  'nats jetstream: the stream deleted under the handlers',
  await probeBroker(NATS_URL),
  () => {
    const handler = handlersOn();

    it('the next sends recreate it and every one of them is delivered, once, in order', async () => {
      const prefix = `deleted-${randomKey('p')}.`;
      const receiver = await handler('jetstream', { exchangePrefix: prefix });
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState('k');
      const sender = await handler('jetstream', { exchangePrefix: prefix });
      // The old stream's sequence is well past 1 when it goes: a consumer recreated
      // after its last sequence would skip the new stream's first messages.
      for (let i = 0; i < 5; i++) await sendTo(sender, `https://x.test/before-${i}`);
      await inbox.receive(5);

      await deleteStreamOf(prefix);
      const after = Array.from({ length: 8 }, (_, i) => `https://x.test/after-${i}`);
      for (const url of after) await sendTo(sender, url);

      await waitFor(() => inbox.messages.length >= 13, 'the sends after the deletion', 30_000);
      await inbox.settle(13, 500);
      expect(urlsOf(inbox).slice(5)).toEqual(after);
    }, 60_000);

    it('a sender with no consumer on the stream recreates it itself, and its send is stored', async () => {
      const prefix = `deleted-${randomKey('p')}.`;
      const sender = await handler('jetstream', { exchangePrefix: prefix });
      await sendTo(sender, 'https://x.test/before');
      await deleteStreamOf(prefix);

      await sendTo(sender, 'https://x.test/after');
      const { state } = await withManager((jsm) => jsm.streams.info(streamOf(prefix)));
      expect(state.messages).toBe(1);
    }, 60_000);
  },
);
