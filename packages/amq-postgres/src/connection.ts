import {
  AMQClosedError,
  AMQError,
  backoffDelay,
  Fifo,
  type Logger,
  messageOf,
} from '@teal/amq-core/adapter';
import pg from 'pg';
import { applicationName, type LinkRole } from './names';
import { describeServer, PACKAGE, type PostgresSettings } from './settings';

/** The connection to PostgreSQL failed, or could not be made. */
export class PostgresConnectionError extends AMQError {
  static override readonly kind: string = 'PostgresConnectionError';
  override name = 'PostgresConnectionError';
}

/** What a link tells its owner, and asks of it for each new connection. */
export interface LinkHooks {
  /** Readies a new connection before any queued work runs on it (LISTEN, restoring bindings). */
  prepare(client: pg.Client): Promise<void>;
  /** The connection is up and prepared. */
  up(): void;
  /** The connection was lost; called once per outage. */
  down(error: unknown): void;
  /** A NOTIFY arrived on a channel the connection listens to. */
  notified?(): void;
}

interface Work {
  readonly run: (client: pg.Client) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
  isDone: boolean;
}

/**
 * SQLSTATEs with which the server ends a session before or instead of
 * running a statement (admin or crash shutdown, not accepting connections):
 * whatever was sent with them never committed.
 */
const ENDED_UNRUN = new Set(['57P01', '57P02', '57P03']);

/**
 * Whether a statement that failed with `error` surely never committed: the
 * server ended the session (above), or node-postgres refused it unwritten.
 */
export function neverRan(error: unknown): boolean {
  const code = sqlStateOf(error);
  if (code !== undefined) return ENDED_UNRUN.has(code);
  return /not queryable|Client was closed/.test(messageOf(error));
}

/** The SQLSTATE of an error the server sent; undefined for a socket's (whose `code` is `ECONNRESET`…). */
export function sqlStateOf(error: unknown): string | undefined {
  return error instanceof pg.DatabaseError ? error.code : undefined;
}

/**
 * One connection to PostgreSQL, kept up: it reconnects with core's backoff,
 * readies each new connection through `prepare` before anything else runs on
 * it, and runs queued work one statement at a time (node-postgres does not
 * pipeline). Work waits for the connection, and is dropped, never written,
 * once its signal fired. A statement left unanswered for `livenessMs` — a
 * half-open link — gets its connection destroyed.
 */
export class Link {
  readonly role: LinkRole;
  readonly #settings: PostgresSettings;
  readonly #hooks: LinkHooks;
  readonly #logger: Logger;
  readonly #name: string;
  readonly #queue = new Fifo<Work>();
  #client: pg.Client | null = null;
  #isRunning = false;
  #isClosed = false;
  #isDown = false;
  #attempt = 0;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #opening: Promise<void> | null = null;

  constructor(
    settings: PostgresSettings,
    role: LinkRole,
    handlerId: string,
    hooks: LinkHooks,
    logger: Logger,
  ) {
    this.#settings = settings;
    this.role = role;
    this.#hooks = hooks;
    this.#logger = logger;
    this.#name = applicationName(handlerId, role);
  }

  get isUp(): boolean {
    return this.#client !== null;
  }

  /**
   * Connects, trying again with backoff for up to `timeoutMs`; rejects with a
   * `PostgresConnectionError` naming the server, never its password.
   */
  async open(timeoutMs: number): Promise<void> {
    const giveUpAt = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#connect();
        return;
      } catch (error) {
        const wait = backoffDelay(attempt);
        if (this.#isClosed || Date.now() + wait > giveUpAt) {
          throw new PostgresConnectionError(
            `[${PACKAGE}] could not connect to PostgreSQL at ${describeServer(this.#settings.server)} (${messageOf(error)}): check url and that PostgreSQL runs`,
            { cause: error },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** Connects in the background, reconnecting until closed. */
  start(): void {
    if (this.#opening !== null || this.#client !== null || this.#isClosed) return;
    this.#opening = this.#connect()
      .catch((error: unknown) => {
        this.#markDown(error);
        this.#scheduleRetry();
      })
      .finally(() => {
        this.#opening = null;
      });
  }

  /**
   * Runs `work` on the connection once it is up and every earlier work is
   * done. Rejects with `signal`'s reason, without running it, if the signal
   * fires first.
   */
  run<T>(work: (client: pg.Client) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#isClosed) return Promise.reject(this.#closedError());
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
      this.#schedulePump();
    });
  }

  /** Closes politely within `signal`'s deadline, else destroys the connection. */
  async close(signal?: AbortSignal): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearTimeout(this.#retry);
    for (const item of this.#queue.drain()) this.#settle(item, this.#closedError());
    const client = this.#client;
    this.#client = null;
    if (client === null) return;
    const ended = client.end().catch(() => {});
    if (signal === undefined) {
      await ended;
      return;
    }
    await new Promise<void>((resolve) => {
      const onAbort = () => {
        destroy(client);
        resolve();
      };
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      void ended.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /** Drops the connection as a network failure would (it reconnects): for tests and liveness. */
  drop(): void {
    if (this.#client !== null) destroy(this.#client);
  }

  #running: Work | null = null;
  #isPumpScheduled = false;

  /**
   * Pumps on the next turn of the event loop, after pending I/O: a reset the
   * socket already received then marks the link down before anything is
   * written to it, and the sends of one turn leave together.
   */
  #schedulePump(): void {
    if (this.#isPumpScheduled) return;
    this.#isPumpScheduled = true;
    setImmediate(() => {
      this.#isPumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    const client = this.#client;
    if (this.#isRunning || client === null) return;
    let item = this.#queue.shift();
    while (item !== undefined && (item.isDone || item.signal?.aborted)) {
      if (!item.isDone) this.#settle(item, item.signal?.reason);
      item = this.#queue.shift();
    }
    if (item === undefined) return;
    this.#isRunning = true;
    this.#running = item;
    const running = item;
    const watchdog = setTimeout(() => {
      this.#logger.warn('a statement got no answer from PostgreSQL; dropping the connection', {
        adapter: PACKAGE,
        role: this.role,
        livenessMs: this.#settings.livenessMs,
      });
      destroy(client);
    }, this.#settings.livenessMs);
    running
      .run(client)
      .then(
        (value) => this.#settle(running, undefined, value),
        (error: unknown) => this.#settle(running, error),
      )
      .finally(() => {
        clearTimeout(watchdog);
        this.#isRunning = false;
        this.#running = null;
        this.#schedulePump();
      });
  }

  #settle(item: Work, error: unknown, value?: unknown): void {
    if (item.isDone) return;
    item.isDone = true;
    item.signal?.removeEventListener('abort', item.onAbort);
    if (error === undefined) item.resolve(value);
    else item.reject(error);
  }

  async #connect(): Promise<void> {
    const { server, livenessMs } = this.#settings;
    const client = new pg.Client({
      host: server.host,
      port: server.port,
      user: server.user,
      database: server.database,
      ssl: server.ssl,
      application_name: this.#name,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: Math.min(livenessMs, 10_000),
      ...(server.password === undefined ? {} : { password: server.password }),
    });
    const lost = (error: unknown) => this.#lost(client, error);
    client.on('error', lost);
    client.on('end', () => lost(new Error('the connection closed')));
    client.on('notification', () => this.#hooks.notified?.());
    try {
      await client.connect();
      await this.#hooks.prepare(client);
    } catch (error) {
      client.removeAllListeners('end');
      destroy(client);
      throw error;
    }
    if (this.#isClosed) {
      destroy(client);
      throw this.#closedError();
    }
    this.#client = client;
    this.#attempt = 0;
    if (this.#isDown) {
      this.#logger.info('reconnected to PostgreSQL', { adapter: PACKAGE, role: this.role });
    }
    this.#isDown = false;
    this.#hooks.up();
    this.#schedulePump();
  }

  #lost(client: pg.Client, error: unknown): void {
    if (this.#client !== client) return;
    this.#client = null;
    destroy(client);
    if (this.#isClosed) return;
    this.#markDown(error);
    this.#scheduleRetry();
  }

  #markDown(error: unknown): void {
    if (this.#isDown || this.#isClosed) return;
    this.#isDown = true;
    this.#logger.warn('lost the connection to PostgreSQL; reconnecting', {
      adapter: PACKAGE,
      role: this.role,
    });
    this.#hooks.down(
      new PostgresConnectionError(
        `[${PACKAGE}] the ${this.role} connection to PostgreSQL at ${describeServer(this.#settings.server)} failed (${messageOf(error)}); reconnecting`,
        { cause: error },
      ),
    );
  }

  #scheduleRetry(): void {
    if (this.#isClosed) return;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(
      () => {
        this.#connect().catch((error: unknown) => {
          this.#markDown(error);
          this.#scheduleRetry();
        });
      },
      backoffDelay(this.#attempt++),
    );
  }

  #closedError(): AMQClosedError {
    return new AMQClosedError(`[${PACKAGE}] the handler was closed`);
  }
}

/** Ends a connection at once, whatever state it is in: node-postgres has no public way. */
function destroy(client: pg.Client): void {
  const socket = (client as unknown as { connection?: { stream?: { destroy?(): void } } })
    .connection?.stream;
  socket?.destroy?.();
  client.end().catch(() => {});
}
