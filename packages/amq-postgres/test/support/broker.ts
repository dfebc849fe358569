import type { AMQHandler } from '@teal/amq-core';
import { type BrokerTarget, type HostileFrame, transportOf } from '@teal/amq-core/testing';
import pg from 'pg';
import type { PostgresTransport } from '../../src/transport';

/** The PostgreSQL the tests use: `POSTGRES_URL`, as CI sets it, or the local install's default. */
export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The adapter's schema in the tests' database (the default). */
export const SCHEMA = 'teal_amq';

let admin: Promise<pg.Client> | null = null;

/** One connection for the tests' own queries, opened on first use. */
export function adminClient(url = POSTGRES_URL): Promise<pg.Client> {
  if (url !== POSTGRES_URL) return connected(url);
  admin ??= connected(url);
  return admin;
}

/** A connection of its own, as another process holds one (a lock, an open transaction): the caller ends it. */
export function ownClient(url = POSTGRES_URL): Promise<pg.Client> {
  return connected(url);
}

/** A fresh schema name, for a test that alters the adapter's objects (`tag` says which test): drop it after. */
export function privateSchema(tag: string): string {
  return `teal_amq_${tag}_${Math.random().toString(36).slice(2, 12)}`;
}

async function connected(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'teal-amq-tests' });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Runs a query on the tests' connection. */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  return (await (await adminClient()).query<R>(text, values)).rows;
}

/** Why PostgreSQL at `url` cannot be used, or null when it answers. */
export async function postgresUnavailable(url = POSTGRES_URL): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    const where = url.replace(/\/\/[^@/]*@/, '//***@');
    return `PostgreSQL at ${where} does not answer (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The transport behind a handler of this adapter. */
export function postgresTransportOf(handler: AMQHandler): PostgresTransport {
  return transportOf<PostgresTransport>(handler);
}

/** What the database holds for a handler: its lease row and its bindings, read from the tables. */
export async function brokerResources(handler: AMQHandler): Promise<string[]> {
  const id = postgresTransportOf(handler).handlerId;
  const rows = await sql<{ line: string }>(
    `SELECT 'handler ' || id AS line FROM ${SCHEMA}.handlers WHERE id = $1
     UNION ALL
     SELECT 'binding ' || exchange || ' ' || routing_key FROM ${SCHEMA}.bindings WHERE handler_id = $1`,
    [id],
  );
  return rows.map((row) => row.line);
}

/** Kills a handler's connections server-side, as a failed network would: how many. */
export async function dropConnection(handler: AMQHandler): Promise<void> {
  const id = postgresTransportOf(handler).handlerId;
  await sql(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1`,
    [`teal-amq/${id}/%`],
  );
}

/** A raw INSERT, as any client of the database could make: no adapter in the way. */
export async function publishAtBroker(
  target: BrokerTarget,
  body: string | Uint8Array,
): Promise<void> {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
  await sql(
    `INSERT INTO ${SCHEMA}.messages (prefix, exchange, routing_key, body) VALUES ($1, $2, $3, $4)`,
    [target.exchangePrefix, target.exchange, target.routingKey, bytes],
  );
}

/** Rows only this adapter's table can hold, each forged by a raw INSERT. */
export const hostileFrames: readonly HostileFrame[] = [
  {
    name: 'a row whose body is larger than maxBodyBytes (65 MiB, left unread)',
    publish: async (target, secret) => {
      await sql(
        `INSERT INTO ${SCHEMA}.messages (prefix, exchange, routing_key, body)
         VALUES ($1, $2, $3, convert_to(repeat('x', 65 * 1024 * 1024) || $4, 'UTF8'))`,
        [target.exchangePrefix, target.exchange, target.routingKey, secret],
      );
    },
  },
  {
    name: 'a row forging its id (2^63 - 1), stream, key hash and expiry (year 9999)',
    publish: async (target, secret) => {
      await sql(
        `INSERT INTO ${SCHEMA}.messages
           (stream, id, prefix, exchange, routing_key, key_hash, body, expires_at)
         VALUES (0, 9223372036854775807, $1, $2, $3, 0, $4, '9999-12-31')`,
        [
          target.exchangePrefix,
          target.exchange,
          target.routingKey,
          Buffer.from(`{"state":"${secret}"`),
        ],
      );
    },
  },
  {
    name: 'a row whose headers forge 1,000 trace fields beside a broken body',
    publish: async (target, secret) => {
      const headers = Object.fromEntries(
        Array.from({ length: 1_000 }, (_, i) => [`traceparent-${i}`, secret]),
      );
      await sql(
        `INSERT INTO ${SCHEMA}.messages (prefix, exchange, routing_key, body, headers)
         VALUES ($1, $2, $3, $4, $5::jsonb)`,
        [
          target.exchangePrefix,
          target.exchange,
          target.routingKey,
          Buffer.from(`{"state":"${secret}"`),
          JSON.stringify(headers),
        ],
      );
    },
  },
  {
    name: 'a row whose headers are a JSON array with a 1 MiB value',
    publish: async (target, secret) => {
      await sql(
        `INSERT INTO ${SCHEMA}.messages (prefix, exchange, routing_key, body, headers)
         VALUES ($1, $2, $3, $4, $5::jsonb)`,
        [
          target.exchangePrefix,
          target.exchange,
          target.routingKey,
          Buffer.from(`{"state":"${secret}"`),
          JSON.stringify(['x'.repeat(1024 * 1024), secret]),
        ],
      );
    },
  },
];

/** Deletes what the suite's handlers left under these prefixes. */
export async function cleanup(prefixes: readonly string[]): Promise<void> {
  await sql(`DELETE FROM ${SCHEMA}.messages WHERE prefix = ANY($1)`, [prefixes]);
  await sql(`DELETE FROM ${SCHEMA}.handlers WHERE prefix = ANY($1)`, [prefixes]);
}
