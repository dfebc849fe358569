import type pg from 'pg';
import type { Names } from './names';
import type { Pending } from './publisher';
import type { PostgresSettings } from './settings';

/**
 * Taken off each deadline the server checks: the time from the trigger's
 * check to the commit being visible (the WAL flush), so that a row cannot
 * become visible after its sender was told it failed.
 */
const COMMIT_ALLOWANCE_MS = 50;

/**
 * Bodies this large on average go as binary parameters of their own: in an
 * array they travel as hex text, twice their size, which this process writes
 * and the server parses (a batch of six 1 MiB bodies took 200 ms that way,
 * 50-80 ms as binary parameters).
 */
const BINARY_BODY_BYTES = 4_096;

/**
 * How far the server's clock is from this process's, measured on each new
 * connection: the server checks each send's deadline by its own clock.
 */
export class ServerClock {
  #offsetMs = 0;
  #uncertaintyMs = 0;

  async measure(client: pg.Client): Promise<void> {
    const sentAt = Date.now();
    const { rows } = await client.query<{ now: number }>(
      'SELECT extract(epoch FROM clock_timestamp()) * 1000 AS now',
    );
    const receivedAt = Date.now();
    this.#offsetMs = Number(rows[0]?.now) - (sentAt + receivedAt) / 2;
    this.#uncertaintyMs = (receivedAt - sentAt) / 2;
  }

  /** The server time by which a row must be written for a send due at `deadline` here. */
  serverDeadline(deadline: number): string {
    const at = deadline + this.#offsetMs - this.#uncertaintyMs - COMMIT_ALLOWANCE_MS;
    return new Date(at).toISOString();
  }
}

/**
 * Writes one batch in one statement. Each row carries its send's deadline by
 * the server's clock, which the insert trigger checks under the prefix's lock.
 */
export async function insertBatch(
  client: pg.Client,
  names: Names,
  settings: PostgresSettings,
  clock: ServerClock,
  batch: readonly Pending[],
  batchId: string,
): Promise<void> {
  const { messages } = names;
  const first = batch[0]!;
  if (batch.length === 1) {
    // A lone send passes its body as a binary parameter, not hex in an array literal.
    await client.query({
      name: 'teal-amq-insert-one',
      text: `INSERT INTO ${messages}
           (prefix, exchange, routing_key, body, expires_at, not_after, batch, headers)
         VALUES ($1, $3, $4, $5, now() + $2 * interval '1 millisecond', $6, $7::uuid, $8::jsonb)`,
      values: [
        settings.exchangePrefix,
        settings.retentionMs,
        first.exchange,
        first.routingKey,
        first.body,
        clock.serverDeadline(first.deadline),
        batchId,
        first.headers,
      ],
    });
    return;
  }
  // Array order is send order; the trigger takes each row's id in insert order.
  const isBinary =
    batch.reduce((bytes, pending) => bytes + pending.body.byteLength, 0) >=
    batch.length * BINARY_BODY_BYTES;
  await client.query({
    // The array form is prepared once per connection, like the reader's statement; the other
    // differs with the batch's length, and planning it is cheap next to its bodies.
    ...(isBinary ? {} : { name: 'teal-amq-insert' }),
    text: `INSERT INTO ${messages}
         (prefix, exchange, routing_key, body, expires_at, not_after, batch, headers)
       SELECT $1, u.exchange, u.routing_key, u.body, now() + $2 * interval '1 millisecond',
         u.not_after, $6::uuid, u.headers
       FROM unnest($3::text[], $4::text[], ${isBinary ? bodyParameters(batch.length) : '$8::bytea[]'},
           $5::timestamptz[], $7::jsonb[])
         WITH ORDINALITY AS u(exchange, routing_key, body, not_after, headers, ord)
       ORDER BY u.ord`,
    values: [
      settings.exchangePrefix,
      settings.retentionMs,
      batch.map((pending) => pending.exchange),
      batch.map((pending) => pending.routingKey),
      batch.map((pending) => clock.serverDeadline(pending.deadline)),
      batchId,
      batch.map((pending) => pending.headers),
      ...(isBinary ? batch.map((pending) => pending.body) : [batch.map((pending) => pending.body)]),
    ],
  });
}

/** `ARRAY[$8::bytea, $9::bytea, …]`: one binary parameter per row's body, after the 7 others. */
function bodyParameters(rows: number): string {
  return `ARRAY[${Array.from({ length: rows }, (_, row) => `$${row + 8}::bytea`).join(', ')}]`;
}
