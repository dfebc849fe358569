import { AMQError, messageOf } from '@teal/amq-core/adapter';
import pg from 'pg';

/** The connection to PostgreSQL failed, or could not be made. */
export class PostgresConnectionError extends AMQError {
  static override readonly kind: string = 'PostgresConnectionError';
  override name = 'PostgresConnectionError';
}

/** The SQLSTATE of an error the server sent; undefined for a socket's (whose `code` is `ECONNRESET`…). */
export function sqlStateOf(error: unknown): string | undefined {
  return error instanceof pg.DatabaseError ? error.code : undefined;
}

/**
 * Whether a statement that failed with `error` was surely never run:
 * node-postgres refused it unwritten, or the server would not take the
 * connection (57P03).
 */
export function neverRan(error: unknown): boolean {
  const code = sqlStateOf(error);
  if (code !== undefined) return code === '57P03';
  return /not queryable|Client was closed/.test(messageOf(error));
}

/**
 * Whether the session ended under a statement — a socket error, a
 * connection exception (08…), an administrator's or a crash's shutdown, an
 * idle timeout (57P01, 57P02, 57P05): it may or may not have committed.
 */
export function isSessionLost(error: unknown): boolean {
  const code = sqlStateOf(error);
  if (code === undefined) return true;
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P05';
}
