import type { ClientBase } from 'pg';
import { INSTALL_LOCK, LOCK_CLASS, type Names, SWEEP_LOCK } from './names';

/** Bumped whenever the DDL below changes; a server at an older version is brought up to it. */
export const SCHEMA_VERSION = 4;

/** The SQLSTATE the insert trigger raises for a row whose send deadline passed. */
export const DEADLINE_SQLSTATE = 'TA001';

/**
 * The adapter's tables and functions. Messages are one table keyed by the
 * prefix's hash (`stream`); handlers and bindings are UNLOGGED (a crash
 * empties them, and every handler restores its own on reconnect).
 */
function ddl(names: Names): string {
  const s = names.schema;
  return `
CREATE SCHEMA IF NOT EXISTS "${s}";
CREATE SEQUENCE IF NOT EXISTS ${names.of('message_ids')} AS bigint;
CREATE TABLE IF NOT EXISTS ${names.messages} (
  stream integer NOT NULL,
  id bigint NOT NULL,
  prefix text NOT NULL,
  exchange text NOT NULL,
  routing_key text NOT NULL,
  key_hash bigint NOT NULL,
  body bytea NOT NULL,
  expires_at timestamptz NOT NULL,
  not_after timestamptz,
  batch uuid,
  PRIMARY KEY (stream, id)
);
-- Broker metadata beside the body (trace context), never in it. Added in version 2.
ALTER TABLE ${names.messages} ADD COLUMN IF NOT EXISTS headers jsonb;
-- Bodies compressed with lz4 where the server has it (PostgreSQL 14 or later, built
-- with lz4): pglz took 4 times as long to write them. Added in version 3; rows
-- already written keep their compression.
DO $$ BEGIN
  EXECUTE 'ALTER TABLE ${names.messages} ALTER COLUMN body SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR syntax_error THEN NULL;
END $$;
CREATE INDEX IF NOT EXISTS messages_by_key ON ${names.messages} (stream, key_hash, id);
CREATE INDEX IF NOT EXISTS messages_by_expiry ON ${names.messages} (expires_at);
CREATE UNLOGGED TABLE IF NOT EXISTS ${names.handlers} (
  id text PRIMARY KEY,
  prefix text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE UNLOGGED TABLE IF NOT EXISTS ${names.bindings} (
  handler_id text NOT NULL REFERENCES ${names.handlers} (id) ON DELETE CASCADE,
  exchange text NOT NULL,
  routing_key text NOT NULL,
  key_hash bigint NOT NULL,
  after_id bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS bindings_by_key ON ${names.bindings} (handler_id, exchange, key_hash);

-- The NOTIFY channel of a prefix: readers LISTEN to it, the insert trigger notifies it.
CREATE OR REPLACE FUNCTION ${names.of('channel_of')}(prefix text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  AS $$ SELECT '${s}:' || hashtext(prefix)::text $$;

-- Every insert, the adapter's or anyone's, goes through here. Ids from a
-- sequence commit out of order; holding the stream's lock from taking the id
-- to the commit makes them commit in id order, so a reader that saw id N
-- committed has seen every id below N that will ever be.
CREATE OR REPLACE FUNCTION ${names.of('before_insert')}() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  NEW.stream := hashtext(NEW.prefix);
  PERFORM pg_advisory_xact_lock(${LOCK_CLASS}, NEW.stream);
  -- Checked once the lock is held, the last wait before the commit: a send
  -- whose caller gave up never lands, however long its statement took to get here.
  IF NEW.not_after IS NOT NULL AND clock_timestamp() > NEW.not_after THEN
    RAISE EXCEPTION 'the send deadline passed before the message was written'
      USING ERRCODE = '${DEADLINE_SQLSTATE}';
  END IF;
  NEW.id := nextval('${names.of('message_ids')}');
  NEW.key_hash := hashtextextended(NEW.routing_key, 0);
  NEW.expires_at := least(coalesce(NEW.expires_at, now() + interval '5 minutes'),
                          now() + interval '7 days');
  PERFORM pg_notify(${names.of('channel_of')}(NEW.prefix), '');
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS before_insert ON ${names.messages};
CREATE TRIGGER before_insert BEFORE INSERT ON ${names.messages}
  FOR EACH ROW EXECUTE FUNCTION ${names.of('before_insert')}();

-- Retention, run by every handler now and then. The prefix's messages beyond
-- its count go at every call: SKIP LOCKED lets two handlers of a prefix trim at
-- once without waiting for or deadlocking on each other. The server-wide work,
-- crashed handlers' bindings and expired messages, is done by one process at a
-- time; the others skip it.
CREATE OR REPLACE FUNCTION ${names.of('sweep')}(prefix text, max_messages bigint)
  RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  removed bigint := 0;
  counted bigint;
  oldest_kept bigint;
BEGIN
  SELECT m.id INTO oldest_kept FROM ${names.messages} m
    WHERE m.stream = hashtext(sweep.prefix) AND m.prefix = sweep.prefix
    ORDER BY m.id DESC OFFSET max_messages - 1 LIMIT 1;
  IF oldest_kept IS NOT NULL THEN
    DELETE FROM ${names.messages} WHERE ctid = ANY (ARRAY(
      SELECT m.ctid FROM ${names.messages} m
        WHERE m.stream = hashtext(sweep.prefix) AND m.prefix = sweep.prefix
          AND m.id < oldest_kept
        FOR UPDATE SKIP LOCKED));
    GET DIAGNOSTICS counted = ROW_COUNT;
    removed := removed + counted;
  END IF;
  IF NOT pg_try_advisory_xact_lock(${LOCK_CLASS}, ${SWEEP_LOCK}) THEN
    RETURN removed;
  END IF;
  DELETE FROM ${names.handlers} WHERE expires_at < now();
  DELETE FROM ${names.messages} WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM ${names.messages} WHERE expires_at < now() LIMIT 50000));
  GET DIAGNOSTICS counted = ROW_COUNT;
  RETURN removed + counted;
END $$;

CREATE OR REPLACE FUNCTION ${names.of('schema_version')}() RETURNS integer
  LANGUAGE sql IMMUTABLE AS $$ SELECT ${SCHEMA_VERSION} $$;
`;
}

/**
 * Creates or upgrades the schema unless it is at this version or a later one:
 * one quick query when it is, else the DDL in a transaction under an advisory
 * lock, so that handlers starting together do not race. A later version is
 * left alone, so that a process of an older release, started during a rolling
 * upgrade, does not take the schema back.
 */
export async function installSchema(client: ClientBase, names: Names): Promise<void> {
  if (isCurrent(await versionOf(client, names))) return;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, INSTALL_LOCK]);
    if (!isCurrent(await versionOf(client, names))) await client.query(ddl(names));
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

function isCurrent(version: number | null): boolean {
  return version !== null && version >= SCHEMA_VERSION;
}

async function versionOf(client: ClientBase, names: Names): Promise<number | null> {
  // Two queries: a call of a function that does not exist fails when parsed.
  const found = await client.query<{ exists: boolean }>(
    'SELECT to_regprocedure($1) IS NOT NULL AS exists',
    [`"${names.schema}".schema_version()`],
  );
  if (found.rows[0]?.exists !== true) return null;
  const version = await client.query<{ version: number }>(
    `SELECT ${names.of('schema_version')}() AS version`,
  );
  return version.rows[0]?.version ?? null;
}
