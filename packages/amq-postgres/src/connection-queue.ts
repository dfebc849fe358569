import { Fifo } from '@teal/amq-core/adapter';
import type pg from 'pg';
import { isSocketGone } from './connection-errors';

interface Work {
  readonly run: (client: pg.Client) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
  isDone: boolean;
}

/**
 * The work waiting for one connection, run one statement at a time
 * (node-postgres does not pipeline, and 9.0 drops its own queue). Work waits
 * while there is no connection, and is dropped, never written, once its
 * signal fired. A statement unanswered for `livenessMs` — a half-open link —
 * is reported through `onStuck`, which destroys its connection; one whose
 * socket died, through `onGone`.
 */
export class StatementQueue {
  readonly #connection: () => pg.Client | null;
  readonly #livenessMs: number;
  readonly #onStuck: (client: pg.Client) => void;
  readonly #onGone: (client: pg.Client, error: unknown) => void;
  readonly #queue = new Fifo<Work>();
  #running: Work | null = null;
  #isPumpScheduled = false;

  constructor(
    connection: () => pg.Client | null,
    livenessMs: number,
    onStuck: (client: pg.Client) => void,
    onGone: (client: pg.Client, error: unknown) => void,
  ) {
    this.#connection = connection;
    this.#livenessMs = livenessMs;
    this.#onStuck = onStuck;
    this.#onGone = onGone;
  }

  run<T>(work: (client: pg.Client) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const item: Work = {
        run: work,
        resolve: resolve as (value: unknown) => void,
        reject,
        signal,
        // Still queued: dropped unwritten. Running: its statement settles on its own.
        onAbort: () => {
          if (this.#running !== item) this.#settle(item, signal?.reason);
        },
        isDone: false,
      };
      signal?.addEventListener('abort', item.onAbort, { once: true });
      this.#queue.push(item);
      this.wake();
    });
  }

  /** Rejects everything queued: the link closes. */
  fail(error: unknown): void {
    for (const item of this.#queue.drain()) this.#settle(item, error);
  }

  /**
   * Runs the next work on the next turn of the event loop, after pending
   * I/O: a reset the socket already received then marks the link down before
   * anything is written to it, and the work of one turn leaves together.
   */
  wake(): void {
    if (this.#isPumpScheduled) return;
    this.#isPumpScheduled = true;
    setImmediate(() => {
      this.#isPumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    const client = this.#connection();
    if (this.#running !== null || client === null) return;
    let item = this.#queue.shift();
    while (item !== undefined && (item.isDone || item.signal?.aborted)) {
      this.#settle(item, item.signal?.reason);
      item = this.#queue.shift();
    }
    if (item === undefined) return;
    const running = item;
    this.#running = running;
    const watchdog = setTimeout(() => this.#onStuck(client), this.#livenessMs);
    running
      .run(client)
      .then(
        (value) => this.#settle(running, undefined, value),
        (error: unknown) => {
          // The socket died under the statement: the link is down now, before node-postgres
          // gets round to saying so, so that the next work waits for a new connection.
          if (isSocketGone(error)) this.#onGone(client, error);
          this.#settle(running, error);
        },
      )
      .finally(() => {
        clearTimeout(watchdog);
        this.#running = null;
        this.wake();
      });
  }

  #settle(item: Work, error: unknown, value?: unknown): void {
    if (item.isDone) return;
    item.isDone = true;
    item.signal?.removeEventListener('abort', item.onAbort);
    if (error === undefined) item.resolve(value);
    else item.reject(error);
  }
}
