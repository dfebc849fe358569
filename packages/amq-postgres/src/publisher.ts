import { randomUUID } from 'node:crypto';
import {
  AMQClosedError,
  type AMQExchangeName,
  AMQSendError,
  AMQUnconfirmedSendError,
  markWritten,
  messageOf,
} from '@teal/amq-core/adapter';
import type pg from 'pg';
import type { Link } from './connection';
import { isSessionLost, neverRan, sqlStateOf } from './connection-errors';
import { DEADLINE_SQLSTATE } from './connection-schema';
import type { Names } from './names';
import { type Doubt, wasWritten } from './publisher-doubt';
import { insertBatch, type ServerClock } from './publisher-insert';
import { PACKAGE, type PostgresSettings } from './settings';

/** Rows and body bytes one INSERT carries at most. */
const MAX_BATCH_ROWS = 1_000;
const MAX_BATCH_BYTES = 8 * 1024 * 1024;

export interface Pending {
  readonly exchange: AMQExchangeName;
  readonly routingKey: string;
  readonly body: Buffer;
  /** Trace context as JSON, or `null`: the `headers` column. */
  readonly headers: string | null;
  /** When core gives up on the send, by this process's clock. */
  readonly deadline: number;
  readonly signal: AbortSignal;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly onAbort: () => void;
  isSettled: boolean;
}

interface DoubtfulBatch extends Doubt {
  readonly sends: Pending[];
}

/**
 * The sending side: concurrent sends wait in one queue and leave in batches,
 * one INSERT per batch, while the previous batch is on its way — one commit
 * for many messages. A send whose signal fired before its batch left is
 * dropped unwritten; one already written carries its deadline, which the
 * insert trigger checks by the server's clock under the stream's lock.
 */
export class Publisher {
  readonly #link: Link;
  readonly #names: Names;
  readonly #settings: PostgresSettings;
  readonly #clock: ServerClock;
  readonly #sendTimeoutMs: number;
  readonly #applicationName: string;
  #pending: Pending[] = [];
  #doubts: DoubtfulBatch[] = [];
  #isScheduled = false;

  constructor(
    link: Link,
    names: Names,
    settings: PostgresSettings,
    clock: ServerClock,
    sendTimeoutMs: number,
    applicationName: string,
  ) {
    this.#applicationName = applicationName;
    this.#link = link;
    this.#names = names;
    this.#settings = settings;
    this.#clock = clock;
    this.#sendTimeoutMs = sendTimeoutMs;
  }

  publish(
    exchange: AMQExchangeName,
    routingKey: string,
    body: string | Uint8Array,
    signal: AbortSignal,
    headers?: Readonly<Record<string, string>>,
  ): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const bytes =
      typeof body === 'string'
        ? Buffer.from(body, 'utf8')
        : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    if (bytes.byteLength > this.#settings.maxBodyBytes) {
      return Promise.reject(
        new AMQSendError(
          `[${PACKAGE}] the body is ${bytes.byteLength} bytes; maxBodyBytes allows ${this.#settings.maxBodyBytes}: raise maxBodyBytes on every handler of the prefix`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = {
        exchange,
        routingKey,
        body: bytes,
        headers: headers === undefined ? null : JSON.stringify(headers),
        deadline: Date.now() + this.#sendTimeoutMs,
        signal,
        resolve,
        reject,
        // Waiting, or in doubt: answered now (in flight: when PostgreSQL answers).
        onAbort: () => {
          const at = this.#pending.indexOf(pending);
          if (at >= 0) this.#pending.splice(at, 1);
          if (at >= 0 || this.#doubts.some((doubt) => doubt.sends.includes(pending))) {
            this.#settle(pending, signal.reason);
          }
        },
        isSettled: false,
      };
      signal.addEventListener('abort', pending.onAbort, { once: true });
      this.#pending.push(pending);
      this.#schedule();
    });
  }

  /** Rejects what still waits, or is in doubt: the handler is closing. */
  fail(error: unknown): void {
    for (const pending of this.#pending.splice(0)) this.#settle(pending, error);
    for (const doubt of this.#doubts.splice(0)) {
      for (const pending of doubt.sends) this.#settle(pending, error);
    }
  }

  #schedule(): void {
    if (this.#isScheduled || (this.#pending.length === 0 && this.#doubts.length === 0)) return;
    this.#isScheduled = true;
    this.#link
      .run((client) => this.#flush(client))
      .catch((error: unknown) => {
        this.#isScheduled = false;
        // The link closed: nothing will be written any more. Else the connection failed
        // under a look-up of a batch in doubt, which waits for the next one.
        if (error instanceof AMQClosedError) this.fail(error);
        else this.#schedule();
      });
  }

  async #flush(client: pg.Client): Promise<void> {
    this.#isScheduled = false;
    // First what a lost connection left in doubt: sends still waiting must not overtake it.
    for (const doubt of this.#doubts.splice(0)) await this.#resolve(client, doubt);
    const batch = this.#takeBatch();
    this.#schedule();
    if (batch.length === 0) return;
    const batchId = randomUUID();
    const pid = (client as unknown as { processID?: number }).processID ?? 0;
    // On the wire from here: a deadline that fires before the commit answers may leave a row
    // that commits after it (its server-side check passed in time), so core says "unconfirmed".
    for (const pending of batch) markWritten(pending.signal);
    try {
      await insertBatch(client, this.#names, this.#settings, this.#clock, batch, batchId);
      for (const pending of batch) this.#settle(pending);
    } catch (error) {
      this.#failed(batch, error, { batchId, pid });
    }
  }

  /** Answers the sends of a batch in doubt: written, or sent again if still in time. */
  async #resolve(client: pg.Client, doubt: DoubtfulBatch): Promise<void> {
    const sends = doubt.sends.filter((pending) => !pending.isSettled);
    if (sends.length === 0) return;
    let isWritten: boolean;
    try {
      isWritten = await wasWritten(
        client,
        this.#names,
        this.#settings.exchangePrefix,
        this.#applicationName,
        doubt,
      );
    } catch (error) {
      if (isSessionLost(error)) {
        // The connection failed again: still in doubt, until the next one.
        this.#doubts.unshift({ ...doubt, sends });
        throw error;
      }
      // Written or not, nobody can tell: the caller must hear "it may have been".
      for (const pending of sends) {
        this.#settle(
          pending,
          new AMQUnconfirmedSendError(
            `[${PACKAGE}] could not tell whether the message on ${pending.exchange} was written (${messageOf(error)}): it may have been; the role needs to see and end its own sessions (pg_stat_activity, pg_terminate_backend)`,
            { cause: error },
          ),
        );
      }
      return;
    }
    if (isWritten) {
      for (const pending of sends) this.#settle(pending);
    } else {
      this.#retry(sends, new Error('the connection failed before the batch was written'));
    }
  }

  #takeBatch(): Pending[] {
    let bytes = 0;
    let count = 0;
    for (const pending of this.#pending) {
      if (
        count > 0 &&
        (count >= MAX_BATCH_ROWS || bytes + pending.body.byteLength > MAX_BATCH_BYTES)
      )
        break;
      bytes += pending.body.byteLength;
      count++;
    }
    return this.#pending.splice(0, count);
  }

  /**
   * A batch the server refused for a deadline was rolled back whole, and one
   * that a closing session never ran was not written: their sends still in
   * time go again, first. One whose connection died before the answer is in
   * doubt until the link is back and tells. Any other refusal fails its sends.
   */
  #failed(batch: Pending[], error: unknown, doubt: Doubt): void {
    const sqlState = sqlStateOf(error);
    if (sqlState === DEADLINE_SQLSTATE || neverRan(error)) {
      this.#retry(batch, error);
      return;
    }
    if (isSessionLost(error)) {
      this.#doubts.push({ ...doubt, sends: batch });
      this.#schedule();
      return;
    }
    for (const pending of batch) {
      this.#settle(
        pending,
        new AMQSendError(
          `[${PACKAGE}] PostgreSQL refused the message on ${pending.exchange}: ${messageOf(error)}`,
          { cause: error },
        ),
      );
    }
  }

  /** Queues unwritten sends again, first, those still in time; the others fail. */
  #retry(sends: Pending[], cause: unknown): void {
    const now = Date.now();
    const again = sends.filter((pending) => pending.deadline > now && !pending.signal.aborted);
    for (const pending of sends) {
      if (!again.includes(pending)) this.#settle(pending, deadlineError(cause));
    }
    this.#pending.unshift(...again);
    this.#schedule();
  }

  #settle(pending: Pending, error?: unknown): void {
    if (pending.isSettled) return;
    pending.isSettled = true;
    pending.signal.removeEventListener('abort', pending.onAbort);
    if (error === undefined) pending.resolve();
    else pending.reject(error);
  }
}

function deadlineError(cause: unknown): AMQSendError {
  return new AMQSendError(
    `[${PACKAGE}] the message was not written: its deadline passed before PostgreSQL could write it (raise sendTimeoutMs, or look for what holds the prefix's writer lock)`,
    { cause },
  );
}
