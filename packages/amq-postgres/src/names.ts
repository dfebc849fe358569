/**
 * How the adapter's names map onto PostgreSQL: one schema holds every
 * prefix's messages, keyed by a hash of the prefix (a "stream"); a stream has
 * its NOTIFY channel and its writer lock.
 */

/** The first key of the adapter's advisory locks, so that they never meet an application's. */
export const LOCK_CLASS = 0x7465_616c; // "teal"
/** The second key of the lock that lets one process at a time sweep expired rows. */
export const SWEEP_LOCK = 0;
/** The second key of the lock that serialises installing the schema. */
export const INSTALL_LOCK = 1;

/** What a connection is for: sends, binds and sweeps, or reading and LISTEN. */
export type LinkRole = 'command' | 'reader';

/** Schema-qualified, quoted names of the adapter's objects. */
export class Names {
  readonly schema: string;

  constructor(schema: string) {
    this.schema = schema;
  }

  /** A quoted, schema-qualified name: the schema name is a checked plain identifier. */
  of(object: string): string {
    return `"${this.schema}"."${object}"`;
  }

  get messages(): string {
    return this.of('messages');
  }

  get handlers(): string {
    return this.of('handlers');
  }

  get bindings(): string {
    return this.of('bindings');
  }
}

/** The application_name of a handler's connection: how the server lists, and tests find, them. */
export function applicationName(handlerId: string, role: LinkRole): string {
  return `teal-amq/${handlerId}/${role}`;
}

/** A channel name quoted for LISTEN (it comes from the server's channel_of(), a plain string). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
