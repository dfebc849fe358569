import { AMQSendError } from '@teal/amq-core';
import { describeWithBroker, Inbox, randomKey, randomPrefix, sleep } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import pg from 'pg';
import { expect, it } from 'vitest';
import { connect } from '../src/index';
import { POSTGRES_URL, postgresUnavailable, SCHEMA, sql } from './support/broker';

describeWithBroker('postgres send deadlines', await postgresUnavailable(), () => {
  it('never writes a send whose statement reached the server but waited there past its deadline', async () => {
    const exchangePrefix = randomPrefix();
    const state = randomKey('late');
    const receiver = await connect({ url: POSTGRES_URL, exchangePrefix });
    const sender = await connect({ url: POSTGRES_URL, exchangePrefix, sendTimeoutMs: 1_000 });
    const holder = new pg.Client({ connectionString: POSTGRES_URL });
    try {
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState(state);
      // Holds the prefix's writer lock, so the send's INSERT is on the server, waiting.
      await holder.connect();
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(${0x7465_616c}, hashtext($1))`, [
        exchangePrefix,
      ]);
      const started = performance.now();
      const send = sender.send(callbackMessage({ url: 'https://x.test/late', state }));
      await expect(send).rejects.toBeInstanceOf(AMQSendError);
      expect(performance.now() - started).toBeLessThan(2_000);
      await sleep(500);
      await holder.query('COMMIT');
      await sender.send(callbackMessage({ url: 'https://x.test/after', state }));
      const [after] = await inbox.receive(1, 10_000);
      expect(after).toMatchObject({ url: 'https://x.test/after' });
      await inbox.settle(1, 500);
      const rows = await sql(`SELECT 1 FROM ${SCHEMA}.messages WHERE prefix = $1`, [
        exchangePrefix,
      ]);
      expect(rows).toHaveLength(1);
    } finally {
      await holder.end().catch(() => {});
      await Promise.allSettled([receiver.close(), sender.close()]);
      await sql(`DELETE FROM ${SCHEMA}.messages WHERE prefix = $1`, [exchangePrefix]);
    }
  }, 30_000);
});
