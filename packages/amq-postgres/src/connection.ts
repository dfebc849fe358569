import { AMQClosedError, backoffDelay, type Logger, messageOf } from '@teal/amq-core/adapter';
import pg from 'pg';
import { PostgresConnectionError } from './connection-errors';
import { StatementQueue } from './connection-queue';
import { applicationName, type LinkRole } from './names';
import { describeServer, PACKAGE, type PostgresSettings } from './settings';

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
  readonly #queue: StatementQueue;
  #client: pg.Client | null = null;
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
    this.#queue = new StatementQueue(
      () => this.#client,
      settings.livenessMs,
      (client) => {
        logger.warn('a statement got no answer from PostgreSQL; dropping the connection', {
          adapter: PACKAGE,
          role,
          livenessMs: settings.livenessMs,
        });
        destroy(client);
      },
      (client, error) => this.#lost(client, error),
    );
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
    return this.#queue.run(work, signal);
  }

  /** Closes politely within `signal`'s deadline, else destroys the connection. */
  async close(signal?: AbortSignal): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearTimeout(this.#retry);
    this.#queue.fail(this.#closedError());
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
    this.#queue.wake();
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
export function destroy(client: pg.Client): void {
  const socket = (client as unknown as { connection?: { stream?: { destroy?(): void } } })
    .connection?.stream;
  socket?.destroy?.();
  client.end().catch(() => {});
}
