import type { AMQExchangeName } from '@teal/amq-core/adapter';
import type pg from 'pg';
import type { Link } from './connection';
import type { Names } from './names';

/** A change of one binding, waiting for the next statement. */
interface Change {
  readonly isBind: boolean;
  readonly exchange: AMQExchangeName;
  readonly routingKey: string;
  readonly signal: AbortSignal | undefined;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

function idOf(exchange: string, routingKey: string): string {
  return `${exchange}\u0000${routingKey}`;
}

/**
 * The handler's bindings in the database: a row in `handlers` (its lease)
 * and one in `bindings` per key, which the reader's query joins. Binds and
 * unbinds made together leave in one statement. The handler's row, and with
 * it every binding, is deleted after the last unbind and on close; a crashed
 * handler's rows go once its lease runs out (any handler's sweep deletes them).
 */
export class BindingTable {
  readonly #link: Link;
  readonly #names: Names;
  readonly #handlerId: string;
  readonly #prefix: string;
  readonly #leaseMs: number;
  /** Every key bound in the database, with the id its messages start after. */
  readonly #afterIds = new Map<string, { exchange: AMQExchangeName; key: string; after: string }>();
  #changes: Change[] = [];
  #isScheduled = false;

  constructor(link: Link, names: Names, handlerId: string, prefix: string, leaseMs: number) {
    this.#link = link;
    this.#names = names;
    this.#handlerId = handlerId;
    this.#prefix = prefix;
    this.#leaseMs = leaseMs;
  }

  /** Whether any key is bound: the reader has something to read. */
  get isEmpty(): boolean {
    return this.#afterIds.size === 0;
  }

  /** The earliest start of a bound key: where a reader that read nothing yet begins. */
  firstAfterId(): string {
    let first: bigint | null = null;
    for (const { after } of this.#afterIds.values()) {
      const id = BigInt(after);
      if (first === null || id < first) first = id;
    }
    return String(first ?? 0n);
  }

  /** The bindings as `binding <exchange> <key>`, as this handler believes the database holds them. */
  lines(): string[] {
    return [...this.#afterIds.values()].map(({ exchange, key }) => `binding ${exchange} ${key}`);
  }

  change(
    isBind: boolean,
    exchange: AMQExchangeName,
    routingKey: string,
    signal?: AbortSignal,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#changes.push({ isBind, exchange, routingKey, signal, resolve, reject });
      this.#schedule();
    });
  }

  /**
   * Makes the database hold exactly `wanted`, in one statement, keeping each
   * key's start: after a reconnect, or when a sweep took the handler's rows.
   */
  async restore(
    client: pg.Client,
    wanted: Iterable<readonly [AMQExchangeName, string]>,
  ): Promise<void> {
    const keys = [...wanted].map(([exchange, key]) => ({
      exchange,
      key,
      after: this.#afterIds.get(idOf(exchange, key))?.after ?? null,
    }));
    if (keys.length === 0) {
      await this.#dropAll(client);
      return;
    }
    await this.#apply(client, keys, [], true);
  }

  /** Renews the lease; restores the rows if a sweep took them, and says so. */
  async renew(
    client: pg.Client,
    wanted: () => Iterable<readonly [AMQExchangeName, string]>,
  ): Promise<boolean> {
    if (this.isEmpty) return false;
    const renewed = await client.query(
      `UPDATE ${this.#names.handlers} SET expires_at = now() + $2 * interval '1 millisecond' WHERE id = $1`,
      [this.#handlerId, this.#leaseMs],
    );
    if (renewed.rowCount !== 0) return false;
    await this.restore(client, wanted());
    return true;
  }

  /** Renews the lease on the link, restoring the rows if a sweep took them. */
  renewWith(wanted: () => Iterable<readonly [AMQExchangeName, string]>): Promise<boolean> {
    return this.#link.run((client) => this.renew(client, wanted));
  }

  /** Deletes the handler's row and every binding with it. */
  async #dropAll(client: pg.Client): Promise<void> {
    await client.query(`DELETE FROM ${this.#names.handlers} WHERE id = $1`, [this.#handlerId]);
    this.#afterIds.clear();
  }

  /** Deletes everything of the handler, for close(). */
  drop(signal: AbortSignal): Promise<void> {
    return this.#link.run((client) => this.#dropAll(client), signal);
  }

  #schedule(): void {
    if (this.#isScheduled) return;
    this.#isScheduled = true;
    this.#link
      .run((client) => this.#flush(client))
      .catch((error: unknown) => {
        this.#isScheduled = false;
        for (const change of this.#changes.splice(0)) change.reject(error);
      });
  }

  async #flush(client: pg.Client): Promise<void> {
    this.#isScheduled = false;
    // Changes whose caller gave up are never written; core undoes nothing it was not told of.
    const changes = this.#changes.splice(0).filter((change) => {
      if (change.signal?.aborted) change.reject(change.signal.reason);
      return !change.signal?.aborted;
    });
    if (changes.length === 0) return;
    try {
      const binds = changes.filter((change) => change.isBind);
      const unbinds = changes.filter((change) => !change.isBind);
      const left = new Set(this.#afterIds.keys());
      for (const { exchange, routingKey } of unbinds) left.delete(idOf(exchange, routingKey));
      if (binds.length === 0 && left.size === 0) {
        await this.#dropAll(client);
      } else {
        const keys = binds.map(({ exchange, routingKey }) => ({
          exchange,
          key: routingKey,
          after: null,
        }));
        const gone = unbinds.map(({ exchange, routingKey }) => ({ exchange, key: routingKey }));
        await this.#apply(client, keys, gone, false);
      }
      for (const change of changes) change.resolve();
    } catch (error) {
      for (const change of changes) change.reject(error);
    }
  }

  /**
   * One statement: renews the handler's row, deletes `gone` (or, when
   * `isExact`, every binding not in `keys`) and inserts the keys not there
   * yet, each starting after the stream's last id unless it has its start.
   */
  async #apply(
    client: pg.Client,
    keys: ReadonlyArray<{ exchange: AMQExchangeName; key: string; after: string | null }>,
    gone: ReadonlyArray<{ exchange: AMQExchangeName; key: string }>,
    isExact: boolean,
  ): Promise<void> {
    const { handlers, bindings, messages } = this.#names;
    const result = await client.query<{
      exchange: AMQExchangeName;
      routing_key: string;
      after_id: string;
    }>(
      `WITH owner AS (
         INSERT INTO ${handlers} (id, prefix, expires_at)
         VALUES ($1, $2, now() + $3 * interval '1 millisecond')
         ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at
         RETURNING id),
       top AS (SELECT coalesce(max(id), 0) AS id FROM ${messages} WHERE stream = hashtext($2)),
       wanted AS (
         SELECT u.exchange, u.routing_key, hashtextextended(u.routing_key, 0) AS key_hash, u.after_id
         FROM unnest($4::text[], $5::text[], $6::bigint[]) AS u(exchange, routing_key, after_id)),
       unwanted AS (
         SELECT u.exchange, u.routing_key, hashtextextended(u.routing_key, 0) AS key_hash
         FROM unnest($7::text[], $8::text[]) AS u(exchange, routing_key)),
       existing AS (
         SELECT b.exchange, b.routing_key, b.after_id FROM ${bindings} b
         JOIN wanted w ON b.handler_id = $1 AND b.exchange = w.exchange
           AND b.key_hash = w.key_hash AND b.routing_key = w.routing_key),
       removed AS (
         DELETE FROM ${bindings} b WHERE b.handler_id = $1 AND (
           ($9 AND NOT EXISTS (SELECT 1 FROM wanted w WHERE b.exchange = w.exchange
             AND b.key_hash = w.key_hash AND b.routing_key = w.routing_key))
           OR EXISTS (SELECT 1 FROM unwanted u WHERE b.exchange = u.exchange
             AND b.key_hash = u.key_hash AND b.routing_key = u.routing_key))),
       added AS (
         INSERT INTO ${bindings} (handler_id, exchange, routing_key, key_hash, after_id)
         SELECT owner.id, w.exchange, w.routing_key, w.key_hash, coalesce(w.after_id, top.id)
         FROM wanted w CROSS JOIN owner CROSS JOIN top
         WHERE NOT EXISTS (SELECT 1 FROM existing e
           WHERE e.exchange = w.exchange AND e.routing_key = w.routing_key)
         RETURNING exchange, routing_key, after_id)
       SELECT exchange, routing_key, after_id::text FROM added
       UNION ALL SELECT exchange, routing_key, after_id::text FROM existing`,
      [
        this.#handlerId,
        this.#prefix,
        this.#leaseMs,
        keys.map(({ exchange }) => exchange),
        keys.map(({ key }) => key),
        keys.map(({ after }) => after),
        gone.map(({ exchange }) => exchange),
        gone.map(({ key }) => key),
        isExact,
      ],
    );
    if (isExact) this.#afterIds.clear();
    for (const { exchange, key } of gone) this.#afterIds.delete(idOf(exchange, key));
    for (const row of result.rows) {
      this.#afterIds.set(idOf(row.exchange, row.routing_key), {
        exchange: row.exchange,
        key: row.routing_key,
        after: row.after_id,
      });
    }
  }
}
