import pg from 'pg';
import { reasonOf, type StateStore, StateStoreError, TABLE_NAME } from './store';

export interface PostgresStateStoreOptions {
  /** `postgres://` or `postgresql://`, without this store's own parameters. */
  readonly url: string;
  /** The table of the states, created when missing. */
  readonly table: string;
  /** How often expired rows are deleted, and how many one sweep deletes at most. */
  readonly sweepIntervalMs?: number;
  readonly sweepBatch?: number;
  /** How long a query may take before it fails. */
  readonly queryTimeoutMs?: number;
}

/**
 * `postgres://…`: one row per state. Reads ignore expired rows; a timer
 * deletes them in bounded batches (any instance may: deletes are idempotent).
 */
export function createPostgresStateStore(options: PostgresStateStoreOptions): StateStore {
  if (!TABLE_NAME.test(options.table)) {
    throw new StateStoreError(`the table name must match ${TABLE_NAME}`);
  }
  const table = options.table;
  const timeout = options.queryTimeoutMs ?? 5_000;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: 4,
    connectionTimeoutMillis: timeout,
    query_timeout: timeout,
  });
  // Idle clients that lose their connection emit here; the next query opens a new one.
  pool.on('error', () => {});
  let isClosed = false;
  let schema: Promise<void> | null = null;

  async function run<T>(what: string, query: () => Promise<T>): Promise<T> {
    if (isClosed) throw new StateStoreError('the PostgreSQL state store is closed');
    try {
      schema ??= createTable().catch((error: unknown) => {
        schema = null;
        throw error;
      });
      await schema;
      return await query();
    } catch (cause) {
      throw new StateStoreError(
        `the PostgreSQL state store could not ${what}: ${reasonOf(cause)}`,
        { cause },
      );
    }
  }

  async function createTable(): Promise<void> {
    try {
      await pool.query(
        `CREATE TABLE IF NOT EXISTS ${table} (
           state text PRIMARY KEY,
           final_redirect_url text,
           with_fragment boolean NOT NULL,
           expires_at timestamptz NOT NULL
         )`,
      );
      await pool.query(`CREATE INDEX IF NOT EXISTS ${table}_expires_at ON ${table} (expires_at)`);
    } catch (error) {
      // Two instances creating the table at once: one of them loses the race, harmlessly.
      if (!isDuplicateObject(error)) throw error;
    }
  }

  const sweepBatch = options.sweepBatch ?? 1_000;
  const timer = setInterval(() => {
    void run('delete expired states', () =>
      pool.query(
        `DELETE FROM ${table} WHERE state IN
           (SELECT state FROM ${table} WHERE expires_at <= now() LIMIT $1)`,
        [sweepBatch],
      ),
    ).catch(() => {
      // The next sweep tries again; reads already ignore expired rows.
    });
  }, options.sweepIntervalMs ?? 60_000);
  timer.unref();

  return {
    async put(state, value) {
      await run('store a state', () =>
        pool.query(
          `INSERT INTO ${table} (state, final_redirect_url, with_fragment, expires_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (state) DO UPDATE SET final_redirect_url = EXCLUDED.final_redirect_url,
             with_fragment = EXCLUDED.with_fragment, expires_at = EXCLUDED.expires_at`,
          [state, value.finalRedirectUrl, value.withFragment, value.expiresAt],
        ),
      );
    },
    async get(state) {
      const result = await run('read a state', () =>
        pool.query<{ final_redirect_url: string | null; with_fragment: boolean; expires_at: Date }>(
          `SELECT final_redirect_url, with_fragment, expires_at FROM ${table}
           WHERE state = $1 AND expires_at > now()`,
          [state],
        ),
      );
      const row = result.rows[0];
      if (row === undefined) return null;
      return {
        finalRedirectUrl: row.final_redirect_url,
        withFragment: row.with_fragment,
        expiresAt: row.expires_at,
      };
    },
    async ping() {
      await run('answer a query', () => pool.query('SELECT 1'));
    },
    async close() {
      if (isClosed) return;
      isClosed = true;
      clearInterval(timer);
      await pool.end();
    },
  };
}

function isDuplicateObject(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // unique_violation (on pg_type) and duplicate_table: concurrent CREATE … IF NOT EXISTS.
  return code === '23505' || code === '42P07';
}
