import { describeWithBroker, Inbox, randomKey, randomPrefix } from '@teal/amq-core/testing';
import { callbackMessage, powensWebhookMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../src/connection-schema';
import { connect } from '../src/index';
import { POSTGRES_URL, postgresUnavailable, privateSchema, SCHEMA, sql } from './support/broker';

/** A payload of about `bytes`, distinct per index, with bytes beyond ASCII and backslashes. */
function payloadOf(index: number, bytes: number): string {
  const unit = `${index}:é€\\"x `;
  return JSON.stringify({ index, data: unit.repeat(Math.ceil(bytes / unit.length)) });
}

/**
 * Bodies travel as bytea both ways: binary parameters in a batch's INSERT,
 * bytea's text form in the reader's results. These check that each arrives
 * byte for byte, in send order, whichever form a batch takes.
 */
describeWithBroker('postgres large bodies', await postgresUnavailable(), () => {
  it('delivers concurrent sends of small and large bodies whole and in send order', async () => {
    const exchangePrefix = randomPrefix();
    const domain = `${randomKey('large')}.biapi.pro`;
    const receiver = await connect({ url: POSTGRES_URL, exchangePrefix });
    const sender = await connect({ url: POSTGRES_URL, exchangePrefix, sendTimeoutMs: 30_000 });
    try {
      const inbox = new Inbox(receiver);
      await receiver.bindPowensDomainWebhooks(domain);
      // From 200 B to 600 KiB: batches whose bodies are mostly large, and mostly small.
      const sizes = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 200 : 4_096 * (i % 150)));
      const payloads = sizes.map((bytes, i) => payloadOf(i, bytes));
      await Promise.all(
        payloads.map((payload) =>
          sender.send(
            powensWebhookMessage({ domain, event: 'CONNECTION_SYNCED', userToken: 'u', payload }),
          ),
        ),
      );
      const messages = await inbox.receive(payloads.length, 30_000);
      expect(messages.map((m) => (m.kind === 'powens_webhook' ? m.payload : null))).toEqual(
        payloads,
      );
      // Sent together, they were written together: several rows per INSERT.
      const [{ batches }] = (await sql<{ batches: string }>(
        `SELECT count(DISTINCT batch) AS batches FROM ${SCHEMA}.messages WHERE prefix = $1`,
        [exchangePrefix],
      )) as [{ batches: string }];
      expect(Number(batches)).toBeLessThan(payloads.length / 2);
    } finally {
      await Promise.allSettled([receiver.close(), sender.close()]);
      await sql(`DELETE FROM ${SCHEMA}.messages WHERE prefix = $1`, [exchangePrefix]);
    }
  }, 60_000);

  it("reads bodies whole on a server whose bytea_output is 'escape'", async () => {
    const exchangePrefix = randomPrefix();
    const domain = `${randomKey('escape')}.biapi.pro`;
    // node-postgres sends PGOPTIONS with each new connection: these sessions output bytea escaped.
    const options = process.env.PGOPTIONS;
    process.env.PGOPTIONS = '-c bytea_output=escape';
    const sender = await connect({ url: POSTGRES_URL, exchangePrefix });
    const receiver = await connect({ url: POSTGRES_URL, exchangePrefix });
    try {
      const inbox = new Inbox(receiver);
      await receiver.bindPowensDomainWebhooks(domain);
      const payloads = [payloadOf(0, 100), payloadOf(1, 70_000)];
      for (const payload of payloads) {
        await sender.send(
          powensWebhookMessage({ domain, event: 'CONNECTION_SYNCED', userToken: 'u', payload }),
        );
      }
      const messages = await inbox.receive(payloads.length, 10_000);
      expect(messages.map((m) => (m.kind === 'powens_webhook' ? m.payload : null))).toEqual(
        payloads,
      );
    } finally {
      if (options === undefined) delete process.env.PGOPTIONS;
      else process.env.PGOPTIONS = options;
      await Promise.allSettled([receiver.close(), sender.close()]);
      await sql(`DELETE FROM ${SCHEMA}.messages WHERE prefix = $1`, [exchangePrefix]);
    }
  }, 30_000);

  it('brings a version 2 schema to lz4 bodies where the server has lz4, and keeps using it', async () => {
    const schema = privateSchema('lz4');
    const exchangePrefix = randomPrefix();
    const domain = `${randomKey('lz4')}.biapi.pro`;
    const compressionOf = async () =>
      (
        await sql<{ compression: string }>(
          `SELECT attcompression::text AS compression FROM pg_attribute
           WHERE attrelid = $1::regclass AND attname = 'body'`,
          [`${schema}.messages`],
        )
      )[0]?.compression;
    const hasLz4 = await sql(`CREATE TEMP TABLE lz4_probe (b bytea COMPRESSION lz4)`).then(
      () => sql('DROP TABLE lz4_probe').then(() => true),
      () => false,
    );
    try {
      // Installed at this version, then made to look like version 2: pglz, and its version.
      const first = await connect({ url: POSTGRES_URL, exchangePrefix, schema });
      await first.close();
      await sql(`ALTER TABLE ${schema}.messages ALTER COLUMN body SET COMPRESSION pglz`);
      await sql(`CREATE OR REPLACE FUNCTION ${schema}.schema_version() RETURNS integer
                 LANGUAGE sql IMMUTABLE AS $$ SELECT 2 $$`);
      expect(await compressionOf()).toBe('p');

      const receiver = await connect({ url: POSTGRES_URL, exchangePrefix, schema });
      const sender = await connect({ url: POSTGRES_URL, exchangePrefix, schema });
      try {
        const inbox = new Inbox(receiver);
        await receiver.bindPowensDomainWebhooks(domain);
        const payload = payloadOf(0, 300_000);
        await sender.send(
          powensWebhookMessage({ domain, event: 'CONNECTION_SYNCED', userToken: 'u', payload }),
        );
        const [message] = await inbox.receive(1, 10_000);
        expect(message?.kind === 'powens_webhook' ? message.payload : null).toBe(payload);
        expect(await compressionOf()).toBe(hasLz4 ? 'l' : 'p');
        const [{ version }] = (await sql<{ version: number }>(
          `SELECT ${schema}.schema_version() AS version`,
        )) as [{ version: number }];
        expect(version).toBe(SCHEMA_VERSION);
      } finally {
        await Promise.allSettled([receiver.close(), sender.close()]);
      }
    } finally {
      await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  }, 30_000);

  it('leaves the schema of a later version alone, as an older process of a rolling upgrade starts', async () => {
    const schema = privateSchema('later');
    const exchangePrefix = randomPrefix();
    const versionOfSchema = async () =>
      (await sql<{ version: number }>(`SELECT ${schema}.schema_version() AS version`))[0]?.version;
    try {
      const first = await connect({ url: POSTGRES_URL, exchangePrefix, schema });
      await first.close();
      expect(await versionOfSchema()).toBe(SCHEMA_VERSION);
      await sql(`CREATE OR REPLACE FUNCTION ${schema}.schema_version() RETURNS integer
                 LANGUAGE sql IMMUTABLE AS $$ SELECT ${SCHEMA_VERSION + 1} $$`);
      const older = await connect({ url: POSTGRES_URL, exchangePrefix, schema });
      try {
        const inbox = new Inbox(older);
        const state = randomKey('later');
        await older.bindCallbackState(state);
        await older.send(callbackMessage({ url: 'https://x.test/later', state }));
        expect(await inbox.receive(1, 10_000)).toHaveLength(1);
      } finally {
        await older.close();
      }
      expect(await versionOfSchema()).toBe(SCHEMA_VERSION + 1);
    } finally {
      await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  }, 30_000);
});
