import { isExchangeName, type TransportContext } from '@teal/amq-core/adapter';
import type pg from 'pg';
import type { Link } from './connection';
import type { BindingTable } from './consumer-bindings';
import { type Names, quoteIdentifier } from './names';
import { PACKAGE, type PostgresSettings } from './settings';

interface Row {
  readonly id: string | null;
  readonly exchange: string | null;
  readonly routing_key: string | null;
  readonly size: string | null;
  /** Base64: node-postgres decodes every field as UTF-8 text, binary results included. */
  readonly body: string | null;
  readonly top: string | null;
  readonly is_bound: string;
  readonly hits: string;
}

/**
 * The receiving side: one reader connection that LISTENs to the prefix's
 * channel and reads, after its cursor, the rows its handler's bindings join.
 * A NOTIFY only wakes it; so do a poll timer and every reconnect, so a lost
 * NOTIFY delays a message at most `pollIntervalMs`. It reads no more than the
 * backlog has room for: what a stuck callback cannot take stays in the table.
 */
export class Consumer {
  readonly #link: Link;
  readonly #names: Names;
  readonly #settings: PostgresSettings;
  readonly #context: TransportContext;
  readonly #bindings: BindingTable;
  readonly #handlerId: string;
  readonly #stopped = new AbortController();
  /** The last id read: every row after it that our bindings join is still to deliver. */
  #cursor = '0';
  #isReading = false;
  #isWokenAgain = false;
  #poll: ReturnType<typeof setInterval> | undefined;

  constructor(
    link: Link,
    names: Names,
    settings: PostgresSettings,
    context: TransportContext,
    bindings: BindingTable,
    handlerId: string,
  ) {
    this.#link = link;
    this.#names = names;
    this.#settings = settings;
    this.#context = context;
    this.#bindings = bindings;
    this.#handlerId = handlerId;
  }

  /** Readies a new reader connection: LISTEN first, so that no wake-up after it is missed. */
  async prepare(client: pg.Client): Promise<void> {
    const { rows } = await client.query<{ channel: string }>(
      `SELECT ${this.#names.of('channel_of')}($1) AS channel`,
      [this.#settings.exchangePrefix],
    );
    await client.query(`LISTEN ${quoteIdentifier(rows[0]!.channel)}`);
  }

  /** Starts the poll timer; reads happen on wake-ups. */
  start(): void {
    if (this.#poll !== undefined) return;
    this.#poll = setInterval(() => this.wake(), this.#settings.pollIntervalMs);
    this.#poll.unref?.();
  }

  /** Reads now, or again right after the read under way. */
  wake(): void {
    if (this.#stopped.signal.aborted) return;
    if (this.#isReading) {
      this.#isWokenAgain = true;
      return;
    }
    this.#isReading = true;
    void this.#readAll().finally(() => {
      this.#isReading = false;
    });
  }

  stop(): void {
    clearInterval(this.#poll);
    this.#stopped.abort();
  }

  async #readAll(): Promise<void> {
    const signal = this.#stopped.signal;
    const backlog = this.#context.backlog;
    try {
      do {
        this.#isWokenAgain = false;
        for (;;) {
          if (signal.aborted || this.#bindings.isEmpty || !this.#link.isUp) return;
          if (backlog.room === 0) {
            await backlog.untilRoom(signal);
            continue;
          }
          const limit = Math.min(backlog.room, this.#settings.readBatch);
          const bytesRoom = Math.max(1, backlog.maxBytes - backlog.bytes);
          const rows = await this.#link.run(
            (client) => this.#read(client, limit, bytesRoom),
            signal,
          );
          if (!this.#take(rows, limit)) break;
        }
      } while (this.#isWokenAgain);
    } catch {
      // Stopped, or the connection failed: its reconnect wakes the reader again.
    }
  }

  #read(client: pg.Client, limit: number, bytesRoom: number): Promise<Row[]> {
    const { handlers, bindings, messages } = this.#names;
    // One statement, one snapshot: `top` and the rows agree, so the cursor may
    // move to `top` when every row the bindings join was read.
    const query = {
      text: `WITH hits AS (
           SELECT m.id, m.exchange, m.routing_key, octet_length(m.body) AS size
           FROM ${bindings} b
           JOIN ${messages} m ON m.stream = hashtext($2) AND m.key_hash = b.key_hash
             AND m.id > greatest(b.after_id, $3::bigint) AND m.exchange = b.exchange
             AND m.routing_key = b.routing_key AND m.prefix = $2
           WHERE b.handler_id = $1
           ORDER BY m.id LIMIT $4),
         sized AS (SELECT h.*, sum(h.size) OVER (ORDER BY h.id) - h.size AS before FROM hits h),
         info AS (SELECT
           (SELECT max(id) FROM ${messages} WHERE stream = hashtext($2)) AS top,
           EXISTS (SELECT 1 FROM ${handlers} WHERE id = $1) AS is_bound,
           (SELECT count(*)::int FROM hits) AS hits)
         SELECT s.id, s.exchange, s.routing_key, s.size,
           CASE WHEN s.size <= $6 THEN encode(m.body, 'base64') END AS body, info.*
         FROM info
         LEFT JOIN (sized s JOIN ${messages} m ON m.stream = hashtext($2) AND m.id = s.id)
           ON s.before < $5
         ORDER BY s.id`,
      values: [
        this.#handlerId,
        this.#settings.exchangePrefix,
        this.#cursor,
        limit,
        bytesRoom,
        this.#settings.maxBodyBytes,
      ],
      // Numbers stay text: ids are bigints, and the counts small.
      types: { getTypeParser: () => (value: string) => value },
    };
    return client.query<Row>(query).then((result) => result.rows);
  }

  /** Delivers what was read and moves the cursor; whether there may be more to read now. */
  #take(rows: readonly Row[], limit: number): boolean {
    const info = rows[0];
    if (info === undefined) return false;
    let last: string | null = null;
    for (const row of rows) {
      if (row.id === null) continue;
      last = row.id;
      this.#deliver(row);
    }
    const hits = Number(info.hits);
    const readAll = hits < limit && rows.filter((row) => row.id !== null).length === hits;
    if (readAll && info.is_bound === 't' && info.top !== null) {
      // Nothing after the last row read joins our bindings up to `top`; under the writer lock
      // no id at or below `top` can commit later. Never while our rows are missing (swept).
      this.#cursor = maxId(this.#cursor, info.top);
    } else if (last !== null) {
      this.#cursor = maxId(this.#cursor, last);
    }
    return !readAll;
  }

  #deliver(row: Row): void {
    const exchange = row.exchange ?? '';
    if (!isExchangeName(exchange) || row.routing_key === null) return;
    if (row.body === null) {
      // Its size only: never a byte of its content.
      this.#context.logger.warn('dropped a message larger than maxBodyBytes, unread', {
        adapter: PACKAGE,
        exchange,
        bytes: Number(row.size),
        maxBodyBytes: this.#settings.maxBodyBytes,
      });
      return;
    }
    const body = Buffer.from(row.body, 'base64');
    this.#context.deliver({ exchange, routingKey: row.routing_key, body });
  }
}

function maxId(a: string, b: string): string {
  return BigInt(a) >= BigInt(b) ? a : b;
}
