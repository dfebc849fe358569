import type { Names } from './names';

/** Longer `headers` columns are left out whole: trace context is a few hundred bytes. */
export const MAX_HEADERS_TEXT = 8_192;

/** Rows of the prefix one read looks at, at most: its work is bounded whatever the backlog. */
export const SCAN_ROWS = 5_000;

/** One row of a read: a message (`id` null when there was none) and, on every row, the read's facts. */
export interface ReadRow {
  readonly id: string | null;
  readonly exchange: string | null;
  readonly routing_key: string | null;
  readonly size: string | null;
  /** The body, parsed from bytea's text form (node-postgres decodes binary results as UTF-8). */
  readonly body: Buffer | null;
  /** The `headers` column as JSON text (bounded by the query), or `null`. */
  readonly headers: string | null;
  /** The prefix's last id. */
  readonly top: string | null;
  /** The last id looked at, and how many rows were. */
  readonly scanned_to: string | null;
  readonly scanned: string;
  /** Whether the handler's row exists: its bindings are in place. */
  readonly is_bound: string;
  /** How many rows joined the bindings, before the cut for the backlog's bytes. */
  readonly hits: string;
}

/**
 * The reader's one statement, one snapshot. It looks at the prefix's rows
 * after the cursor in id order, at most
 * SCAN_ROWS of them, keeps those its bindings join ($4 at most, and no more
 * body bytes than $5 but at least one), and returns them with the prefix's
 * last id: the work grows with the prefix's new rows, not with the number of
 * bindings. Parameters: handler id, prefix, cursor, rows, bytes, maxBodyBytes.
 */
export function readStatement({ messages, bindings, handlers }: Names): string {
  return `WITH fresh AS MATERIALIZED (
    SELECT m.id, m.prefix, m.exchange, m.routing_key, m.key_hash, octet_length(m.body) AS size
    FROM ${messages} m
    WHERE m.stream = hashtext($2) AND m.id > $3::bigint
    ORDER BY m.id LIMIT ${SCAN_ROWS}),
  hits AS (
    SELECT f.id, f.exchange, f.routing_key, f.size FROM fresh f
    WHERE f.prefix = $2 AND EXISTS (
      SELECT 1 FROM ${bindings} b WHERE b.handler_id = $1 AND b.exchange = f.exchange
        AND b.key_hash = f.key_hash AND b.routing_key = f.routing_key AND f.id > b.after_id)
    ORDER BY f.id LIMIT $4),
  sized AS (
    SELECT h.id, h.exchange, h.routing_key, h.size,
      sum(h.size) OVER (ORDER BY h.id) - h.size AS before
    FROM hits h),
  info AS (SELECT
    (SELECT max(id) FROM ${messages} WHERE stream = hashtext($2)) AS top,
    (SELECT max(id) FROM fresh) AS scanned_to,
    (SELECT count(*) FROM fresh) AS scanned,
    EXISTS (SELECT 1 FROM ${handlers} WHERE id = $1) AS is_bound,
    (SELECT count(*) FROM hits) AS hits)
  SELECT s.id, s.exchange, s.routing_key, s.size,
    CASE WHEN s.size <= $6 THEN m.body END AS body,
    CASE WHEN octet_length(m.headers::text) <= ${MAX_HEADERS_TEXT} THEN m.headers::text END AS headers,
    info.*
  FROM info
  LEFT JOIN (sized s JOIN ${messages} m ON m.stream = hashtext($2) AND m.id = s.id)
    ON s.before < $5
  ORDER BY s.id`;
}

/**
 * Where the cursor goes after a read, and whether to read again at once.
 * It moves past what was delivered; past rows looked at but not ours only
 * when every row of ours among them was delivered; and to the prefix's last
 * id only when the read looked at everything up to it — and never while the
 * handler's rows are missing (a sweep took them; they come back with its
 * next renewal, and what arrived meanwhile must still be read).
 */
export function nextCursor(
  cursor: string,
  rows: readonly ReadRow[],
  limit: number,
): { cursor: string; isMore: boolean } {
  const info = rows[0];
  if (info === undefined) return { cursor, isMore: false };
  const delivered = rows.filter((row) => row.id !== null);
  const last = delivered.at(-1)?.id ?? null;
  const hits = Number(info.hits);
  if (hits >= limit || delivered.length < hits) {
    return { cursor: last === null ? cursor : maxId(cursor, last), isMore: true };
  }
  if (info.is_bound !== 't') {
    return { cursor: last === null ? cursor : maxId(cursor, last), isMore: false };
  }
  if (Number(info.scanned) >= SCAN_ROWS && info.scanned_to !== null) {
    return { cursor: maxId(cursor, info.scanned_to), isMore: true };
  }
  return { cursor: info.top === null ? cursor : maxId(cursor, info.top), isMore: false };
}

function maxId(a: string, b: string): string {
  return BigInt(a) >= BigInt(b) ? a : b;
}
