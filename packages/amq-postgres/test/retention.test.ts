import { describeWithBroker, Inbox, randomKey, randomPrefix, sleep } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { connect, PostgresStatementError } from '../src/index';
import { LOCK_CLASS, SWEEP_LOCK } from '../src/names';
import {
  brokerResources,
  ownClient,
  POSTGRES_URL,
  postgresTransportOf,
  postgresUnavailable,
  privateSchema,
  SCHEMA,
  sql,
} from './support/broker';

async function rowsOf(prefix: string): Promise<number> {
  const [row] = await sql<{ count: string }>(
    `SELECT count(*) FROM ${SCHEMA}.messages WHERE prefix = $1`,
    [prefix],
  );
  return Number(row?.count);
}

async function until(what: string, holds: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await holds())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describeWithBroker('postgres retention', await postgresUnavailable(), () => {
  it('deletes messages older than retentionMs by itself', async () => {
    const exchangePrefix = randomPrefix();
    const handler = await connect({ url: POSTGRES_URL, exchangePrefix, retentionMs: 1_000 });
    try {
      for (let i = 0; i < 20; i++) {
        await handler.send(callbackMessage({ url: `https://x.test/${i}`, state: 'old' }));
      }
      expect(await rowsOf(exchangePrefix)).toBe(20);
      // Sweeps delete expired rows oldest first, 50,000 at a time, whoever's they are: on a
      // shared server, expired rows that runs without a live handler left (356,023 once, in
      // CI) go before these, a sweep a second at most.
      await until(
        'the expired messages to go',
        async () => (await rowsOf(exchangePrefix)) === 0,
        60_000,
      );
    } finally {
      await handler.close();
    }
  }, 90_000);

  /** Sends 50 messages on a prefix that keeps 10, and checks that the newest 10 stay. */
  async function keepsTheNewest(): Promise<void> {
    const exchangePrefix = randomPrefix();
    // Rows outlive the test: a prefix emptied by expiry must not pass for a trimmed one.
    const handler = await connect({
      url: POSTGRES_URL,
      exchangePrefix,
      maxMessages: 10,
      retentionMs: 30_000,
    });
    try {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          handler.send(callbackMessage({ url: `https://x.test/${i}`, state: 'many' })),
        ),
      );
      await until(
        'the prefix to be trimmed to 10',
        async () => (await rowsOf(exchangePrefix)) === 10,
      );
      const rows = await sql<{ body: Buffer }>(
        `SELECT body FROM ${SCHEMA}.messages WHERE prefix = $1 ORDER BY id`,
        [exchangePrefix],
      );
      expect(rows.map((row) => JSON.parse(row.body.toString()).url)).toEqual(
        Array.from({ length: 10 }, (_, i) => `https://x.test/${40 + i}`),
      );
    } finally {
      await handler.close();
      await sql(`DELETE FROM ${SCHEMA}.messages WHERE prefix = $1`, [exchangePrefix]);
    }
  }

  it('keeps at most maxMessages of a prefix, the newest', keepsTheNewest, 30_000);

  it("keeps a prefix to maxMessages while another process's sweep holds the sweep lock", async () => {
    // What a long sweep elsewhere does (deleting 50,000 expired rows on a loaded server):
    // the server-wide work waits for it, a prefix's own count must not.
    const holder = await ownClient();
    try {
      await holder.query('SELECT pg_advisory_lock($1, $2)', [LOCK_CLASS, SWEEP_LOCK]);
      await keepsTheNewest();
    } finally {
      await holder.end();
    }
  }, 30_000);

  it("lets a crashed handler's bindings expire with its lease", async () => {
    const exchangePrefix = randomPrefix();
    const crashed = await connect({ url: POSTGRES_URL, exchangePrefix, leaseMs: 1_000 });
    const sweeper = await connect({ url: POSTGRES_URL, exchangePrefix, retentionMs: 1_000 });
    try {
      await crashed.bindCallbackState(randomKey('orphan'));
      expect(await brokerResources(crashed)).toHaveLength(2);
      // Its connections die and its timers stop, but nobody deletes its rows: a killed process.
      const transport = postgresTransportOf(crashed);
      await Promise.all([transport.reader.close(), transport.command.close()]);
      await until('the lease to run out and a sweep to take the rows', async () => {
        return (await brokerResources(crashed)).length === 0;
      });
    } finally {
      await Promise.allSettled([crashed.close(), sweeper.close()]);
    }
  }, 30_000);

  it('puts back the rows a sweep took from a live handler, skipping nothing sent meanwhile', async () => {
    const exchangePrefix = randomPrefix();
    const receiver = await connect({ url: POSTGRES_URL, exchangePrefix, leaseMs: 1_500 });
    const sender = await connect({ url: POSTGRES_URL, exchangePrefix });
    try {
      const inbox = new Inbox(receiver);
      const state = randomKey('swept');
      await receiver.bindCallbackState(state);
      // What a sweep does to a handler whose process stalled past its lease.
      await sql(`DELETE FROM ${SCHEMA}.handlers WHERE id = $1`, [
        postgresTransportOf(receiver).handlerId,
      ]);
      const urls = [0, 1, 2].map((i) => `https://x.test/swept/${i}`);
      for (const url of urls) await sender.send(callbackMessage({ url, state }));
      const messages = await inbox.receive(3, 10_000);
      expect(messages.map((m) => (m.kind === 'callback' ? m.url : ''))).toEqual(urls);
      expect(await brokerResources(receiver)).toHaveLength(2);
    } finally {
      await Promise.allSettled([receiver.close(), sender.close()]);
      await sql(`DELETE FROM ${SCHEMA}.messages WHERE prefix = $1`, [exchangePrefix]);
    }
  }, 30_000);

  it('reports a sweep the server refuses to onError, once for a run of failures', async () => {
    // A schema of its own, whose sweep fails: as it would for a role without rights.
    const schema = privateSchema('sweep');
    const errors: unknown[] = [];
    const handler = await connect({
      url: POSTGRES_URL,
      exchangePrefix: randomPrefix(),
      schema,
      retentionMs: 1_000,
      onError: (error) => errors.push(error),
    });
    try {
      await sql(
        `CREATE OR REPLACE FUNCTION ${schema}.sweep(prefix text, max_messages bigint)
           RETURNS bigint LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'permission denied for table messages' USING ERRCODE = '42501'; END $$`,
      );
      await sleep(3_500);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(PostgresStatementError);
      expect((errors[0] as Error).message).toMatch(/a sweep failed \(permission denied/);
    } finally {
      await handler.close();
      await sql(`DROP SCHEMA ${schema} CASCADE`);
    }
  }, 30_000);
});
