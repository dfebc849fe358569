import { isExchangeName, type TransportContext } from '@teal/amq-core/adapter';
import pg from 'pg';
import type { BindingTable } from './bindings';
import type { Link } from './connection';
import { reportOnce } from './connection-errors';
import { nextCursor, type ReadRow, readStatement } from './consumer-read';
import { type Names, quoteIdentifier } from './names';
import { PACKAGE, type PostgresSettings } from './settings';

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
  readonly #statement: string;
  readonly #readFailures: ReturnType<typeof reportOnce>;
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
    this.#statement = readStatement(names);
    this.#readFailures = reportOnce((error) => context.reportError(error));
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
      this.#readFailures.succeeded();
    } catch (error) {
      // Stopped, or the connection failed: its reconnect wakes the reader again.
      if (!signal.aborted) this.#readFailures.failed('reading messages', error);
    }
  }

  #read(client: pg.Client, limit: number, bytesRoom: number): Promise<ReadRow[]> {
    const query = {
      // Prepared once per connection: the statement is planned once, not on every read.
      name: 'teal-amq-read',
      text: this.#statement,
      values: [
        this.#handlerId,
        this.#settings.exchangePrefix,
        // A reader that read nothing yet starts at its oldest binding, not at the table's first row.
        this.#cursor === '0' ? this.#bindings.firstAfterId() : this.#cursor,
        limit,
        bytesRoom,
        this.#settings.maxBodyBytes,
      ],
      // Numbers stay text: ids are bigints, and the counts small; the body becomes a Buffer.
      types: { getTypeParser: (oid: number) => (oid === BYTEA ? parseBytea : asText) },
    };
    return client.query<ReadRow>(query).then((result) => result.rows);
  }

  /** Delivers what was read and moves the cursor; whether there may be more to read now. */
  #take(rows: readonly ReadRow[], limit: number): boolean {
    for (const row of rows) if (row.id !== null) this.#deliver(row);
    const { cursor, isMore } = nextCursor(this.#cursor, rows, limit);
    this.#cursor = cursor;
    return isMore;
  }

  #deliver(row: ReadRow): void {
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
    const headers = row.headers === null ? undefined : this.#headersOf(row.headers, exchange);
    this.#context.deliver(
      headers === undefined
        ? { exchange, routingKey: row.routing_key, body: row.body }
        : { exchange, routingKey: row.routing_key, body: row.body, headers },
    );
  }

  /**
   * The `headers` column of a row, as trace context: at most 16 string
   * values; a column anyone wrote that is not that is left out with a
   * warning that quotes none of it, and the body still goes on.
   */
  #headersOf(text: string, exchange: string): Readonly<Record<string, string>> | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (parsed === null) return undefined;
    const entries =
      typeof parsed === 'object' && !Array.isArray(parsed) ? Object.entries(parsed) : null;
    if (
      entries === null ||
      entries.length > MAX_HEADERS ||
      !entries.every(([name, value]) => HEADER_NAME.test(name) && typeof value === 'string')
    ) {
      this.#context.logger.warn('left out the headers of a message that are not trace context', {
        adapter: PACKAGE,
        exchange,
        characters: text.length,
      });
      return undefined;
    }
    return Object.fromEntries(entries) as Record<string, string>;
  }
}

const BYTEA = pg.types.builtins.BYTEA;
/** node-postgres's own: it reads both of the server's `bytea_output` forms, hex and escape. */
const parseBytea = pg.types.getTypeParser(BYTEA, 'text');
const asText = (value: string) => value;

/** Header names a tracer writes: a token, short. */
const HEADER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_HEADERS = 16;
