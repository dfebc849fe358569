/** What a `create` stored for the listener: how to finish the callback of one state. */
export interface CallbackState {
  /** Where the listener redirects (302) once the callback is sent; `null`: no redirection. */
  readonly finalRedirectUrl: string | null;
  /** Whether the listener sends the full URL, fragment included, even when the query has the state. */
  readonly withFragment: boolean;
  /** After this instant the state is unknown, and the store removes it by itself. */
  readonly expiresAt: Date;
}

/**
 * Where callback states live: shared by every listener and dispatcher
 * instance that points at it. Each store removes expired states by itself
 * (a TTL or a bounded sweep); an expired state reads as unknown at once.
 */
export interface StateStore {
  /** Stores (or replaces) a state until its `expiresAt`. */
  put(state: string, value: CallbackState): Promise<void>;
  /** The state as stored, or `null` when it is unknown or expired. */
  get(state: string): Promise<CallbackState | null>;
  /** Resolves when the store answers; rejects with the reason otherwise (for readiness checks). */
  ping(): Promise<void>;
  /** Releases connections and timers; idempotent. */
  close(): Promise<void>;
}

/** The store failed to answer; the message never holds the state or the URL. */
export class StateStoreError extends Error {
  override readonly name = 'StateStoreError';
}

/** A client's reason for a failure: drivers name the host and the error, never the password. */
export function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A PostgreSQL table name the store accepts: unquoted, lower case, at most 63 bytes. */
export const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
