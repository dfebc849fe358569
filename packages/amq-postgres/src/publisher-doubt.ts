import type pg from 'pg';
import type { Names } from './names';

/** How long the check waits for the session that sent a batch to be gone. */
const OLD_SESSION_GONE_MS = 5_000;

/** A batch whose connection died before PostgreSQL answered: written or not, nobody knows yet. */
export interface Doubt {
  /** The batch's id, in the `batch` column of each of its rows. */
  readonly batchId: string;
  /** The server process of the connection that sent it. */
  readonly pid: number;
}

/**
 * Whether a batch in doubt was written. The session that sent it may still
 * be running its INSERT (a client's connection can die before the server
 * notices), so it is ended first and awaited: after that, the rows are there
 * or never will be, and the sends can be answered, or sent again, exactly once.
 */
export async function wasWritten(
  client: pg.Client,
  names: Names,
  prefix: string,
  applicationName: string,
  doubt: Doubt,
): Promise<boolean> {
  // The name guards against a process id the server has since given to another session.
  const session = 'FROM pg_stat_activity WHERE pid = $1 AND application_name = $2';
  await client.query(`SELECT pg_terminate_backend(pid) ${session}`, [doubt.pid, applicationName]);
  const giveUpAt = Date.now() + OLD_SESSION_GONE_MS;
  for (;;) {
    const alive = await client.query(`SELECT 1 ${session}`, [doubt.pid, applicationName]);
    if (alive.rowCount === 0) break;
    if (Date.now() > giveUpAt) throw new Error('the session that sent the batch does not end');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const found = await client.query(
    `SELECT 1 FROM ${names.messages} WHERE stream = hashtext($1) AND batch = $2 LIMIT 1`,
    [prefix, doubt.batchId],
  );
  return (found.rowCount ?? 0) > 0;
}
