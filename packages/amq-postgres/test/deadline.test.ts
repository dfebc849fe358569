import { AMQSendError, AMQUnconfirmedSendError } from '@teal/amq-core';
import { describeWithBroker, Inbox, randomKey, randomPrefix, sleep } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { connect } from '../src/index';
import { LOCK_CLASS } from '../src/names';
import {
  dropConnection,
  ownClient,
  POSTGRES_URL,
  postgresTransportOf,
  postgresUnavailable,
  privateSchema,
  SCHEMA,
  sql,
} from './support/broker';

describeWithBroker('postgres send deadlines', await postgresUnavailable(), () => {
  it('never writes a send whose statement reached the server but waited there past its deadline', async () => {
    const exchangePrefix = randomPrefix();
    const state = randomKey('late');
    const receiver = await connect({ url: POSTGRES_URL, exchangePrefix });
    const sender = await connect({ url: POSTGRES_URL, exchangePrefix, sendTimeoutMs: 1_000 });
    const holder = await ownClient();
    try {
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState(state);
      // Holds the prefix's writer lock, so the send's INSERT is on the server, waiting.
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(${LOCK_CLASS}, hashtext($1))`, [
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

describeWithBroker('postgres sends in doubt', await postgresUnavailable(), () => {
  it('rejects a send as unconfirmed when the look-up of its batch in doubt fails', async () => {
    // A schema of its own: the test takes its messages table away for a moment.
    const schema = privateSchema('doubt');
    const exchangePrefix = randomPrefix();
    const sender = await connect({ url: POSTGRES_URL, exchangePrefix, schema, onError: () => {} });
    const holder = await ownClient();
    try {
      await sender.send(callbackMessage({ url: 'https://x.test/first', state: 'doubt' }));
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE ${schema}.messages IN ACCESS EXCLUSIVE MODE`);
      // On the server, waiting for the table: then its session dies, so the batch is in doubt.
      const send = sender.send(callbackMessage({ url: 'https://x.test/doubt', state: 'doubt' }));
      const settled = send.then(
        () => null,
        (error: unknown) => error,
      );
      const application = `teal-amq/${postgresTransportOf(sender).handlerId}/%`;
      const waiting = async () =>
        (
          await sql(
            `SELECT 1 FROM pg_stat_activity WHERE application_name LIKE $1 AND wait_event_type = 'Lock'`,
            [application],
          )
        ).length;
      while ((await waiting()) === 0) await sleep(20);
      await dropConnection(sender);
      // The look-up, on the new session, waits for the table too: then finds it gone.
      while ((await waiting()) === 0) await sleep(20);
      await holder.query(`ALTER TABLE ${schema}.messages RENAME TO messages_away`);
      await holder.query('COMMIT');
      const error = await settled;
      expect(error).toBeInstanceOf(AMQUnconfirmedSendError);
      expect((error as Error).message).toMatch(/could not tell whether .* was written/);
    } finally {
      await holder.end().catch(() => {});
      await sql(`ALTER TABLE IF EXISTS ${schema}.messages_away RENAME TO messages`);
      await sender.close();
      await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  }, 30_000);
});
