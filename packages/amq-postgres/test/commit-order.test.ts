import { describeWithBroker, Inbox, randomKey, randomPrefix } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { connect } from '../src/index';
import { ownClient, POSTGRES_URL, postgresUnavailable, SCHEMA, sql } from './support/broker';

/**
 * The classic trap of a table with sequence ids: ids are taken in one order
 * and committed in another, so a reader that moved past id N misses an N - 1
 * committed after. Here a raw transaction takes an id and holds its commit
 * while a handler sends on the same prefix and the reader reads.
 */
describeWithBroker('postgres commit order', await postgresUnavailable(), () => {
  it('delivers a message whose id was taken before a later one committed', async () => {
    const exchangePrefix = randomPrefix();
    const state = randomKey('order');
    const receiver = await connect({ url: POSTGRES_URL, exchangePrefix });
    const sender = await connect({ url: POSTGRES_URL, exchangePrefix, sendTimeoutMs: 10_000 });
    const holder = await ownClient();
    try {
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState(state);
      await holder.query('BEGIN');
      const body = JSON.stringify({
        timestamp: '2024-01-01T00:00:00',
        url: 'https://x.test/early',
        state,
      });
      await holder.query(
        `INSERT INTO ${SCHEMA}.messages (prefix, exchange, routing_key, body) VALUES ($1, 'callbacks', $2, $3)`,
        [exchangePrefix, state, Buffer.from(body)],
      );
      // A later send, and reads meanwhile: without the writer lock it commits first and
      // the reader's cursor moves past the held id.
      const late = sender.send(callbackMessage({ url: 'https://x.test/late', state }));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await holder.query('COMMIT');
      await late;
      const messages = await inbox.receive(2, 10_000);
      expect(messages.map((m) => (m.kind === 'callback' ? m.url : ''))).toEqual([
        'https://x.test/early',
        'https://x.test/late',
      ]);
    } finally {
      await holder.end().catch(() => {});
      await Promise.allSettled([receiver.close(), sender.close()]);
      await sql(`DELETE FROM ${SCHEMA}.messages WHERE prefix = $1`, [exchangePrefix]);
    }
  }, 30_000);

  it('delivers every message of 4 concurrent senders exactly once while they race to commit', async () => {
    const exchangePrefix = randomPrefix();
    const state = randomKey('race');
    const receiver = await connect({ url: POSTGRES_URL, exchangePrefix });
    const senders = await Promise.all(
      [0, 1, 2, 3].map(() => connect({ url: POSTGRES_URL, exchangePrefix, sendTimeoutMs: 30_000 })),
    );
    try {
      const seen: string[] = [];
      receiver.callback = (message) => {
        if (message.kind === 'callback') seen.push(message.url);
      };
      await receiver.bindCallbackState(state);
      await Promise.all(
        senders.map(async (sender, s) => {
          for (let i = 0; i < 500; i++) {
            await sender.send(callbackMessage({ url: `https://x.test/${s}/${i}`, state }));
          }
        }),
      );
      const deadline = Date.now() + 20_000;
      while (seen.length < 2_000 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(new Set(seen).size).toBe(2_000);
      expect(seen.length).toBe(2_000);
    } finally {
      await Promise.allSettled([receiver, ...senders].map((handler) => handler.close()));
      await sql(`DELETE FROM ${SCHEMA}.messages WHERE prefix = $1`, [exchangePrefix]);
    }
  }, 60_000);
});
