import { AMQError, messageOf } from '@teal/amq-core/adapter';
import pg from 'pg';

/** The connection to PostgreSQL failed, or could not be made. */
export class PostgresConnectionError extends AMQError {
  static override readonly kind: string = 'PostgresConnectionError';
  override name = 'PostgresConnectionError';
}

/**
 * A background statement — a read, a sweep, a lease renewal — that
 * PostgreSQL refused: reported to the handler's `onError` (the first of a
 * run of failures), and tried again.
 */
export class PostgresStatementError extends AMQError {
  static override readonly kind: string = 'PostgresStatementError';
  override name = 'PostgresStatementError';
}

/** Reports the first failure of a run, and again after a success: no report storm. */
export function reportOnce(report: (error: unknown) => void): {
  failed(what: string, error: unknown): void;
  succeeded(): void;
} {
  let isFailing = false;
  return {
    failed(what, error) {
      // A lost connection is reported by its link; only what the server refused is news.
      if (isFailing || isSessionLost(error)) return;
      isFailing = true;
      report(
        new PostgresStatementError(
          `[@teal/amq-postgres] ${what} failed (${messageOf(error)}); trying again. Check the role's rights on the adapter's schema`,
          { cause: error },
        ),
      );
    },
    succeeded() {
      isFailing = false;
    },
  };
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

/** Whether `error` says the socket under the session is gone (not that the server refused something). */
export function isSocketGone(error: unknown): boolean {
  if (sqlStateOf(error) !== undefined) return false;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true;
  return /Connection terminated|not queryable|Client was closed/.test(messageOf(error));
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
