import type { Backlog } from '@teal/amq-core/adapter';
import type { Cursor } from './bindings';

export interface ReadPlan {
  /** The streams to list, after the wake stream. */
  readonly cursors: readonly Cursor[];
  /** COUNT: entries per listed stream. */
  readonly count: number;
  readonly blockMs: number;
}

interface PlanOptions {
  readonly readCount: number;
  readonly blockMs: number;
  /** BLOCK while keys are set aside: they are looked at again after it. */
  readonly recheckMs: number;
  /** The largest body recently read, 0 when none yet. */
  readonly entryBytes: number;
  /** Rotates which streams are listed when fewer than all fit. */
  readonly turn: number;
}

/**
 * What the next XREAD lists and how much it takes. COUNT applies to each
 * stream, so an XREAD can bring COUNT × streams entries: the backlog's room is
 * shared among the streams listed, and when it is smaller than their number,
 * only as many streams as it holds are listed (in turn). Bytes are bounded by
 * the same share of the backlog's free bytes, at the largest body recently
 * read (or the average the bounds allow): a read overshoots the byte bound
 * only when bodies grow, by at most one entry per stream.
 */
export function planRead(all: Iterable<Cursor>, backlog: Backlog, options: PlanOptions): ReadPlan {
  let cursors: Cursor[] = [];
  let isSettingAside = false;
  for (const cursor of all) {
    if (cursor.recheckAt === 0) cursors.push(cursor);
    else isSettingAside = true;
  }
  const room = Math.max(1, backlog.room);
  if (cursors.length > room) {
    const start = options.turn % cursors.length;
    cursors = [...cursors.slice(start), ...cursors.slice(0, start)].slice(0, room);
  }
  const streams = Math.max(1, cursors.length);
  const entryBytes = Math.max(options.entryBytes, backlog.maxBytes / backlog.maxMessages, 1);
  const freeBytes = Math.max(0, backlog.maxBytes - backlog.bytes);
  const count = Math.max(
    1,
    Math.min(
      options.readCount,
      Math.floor(room / streams),
      Math.floor(freeBytes / entryBytes / streams),
    ),
  );
  const blockMs = isSettingAside ? Math.min(options.blockMs, options.recheckMs) : options.blockMs;
  return { cursors, count, blockMs };
}
