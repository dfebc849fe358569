import type { AMQExchangeName } from '@teal/amq-core/adapter';
import type { Cursor } from './bindings';
import type { RedisClient } from './connection';
import { DuplicateFilter } from './consumer-dedupe';
import { GapJudge, RedisStreamsLagError } from './consumer-gaps';
import type { WarningThrottle } from './consumer-warnings';
import { compareStreamIds, parseEntry } from './entries';
import { PACKAGE } from './settings';

/** What the filter hands its deliveries and troubles to. */
export interface EntryHooks {
  /** Hands a message to the handler, with the headers it came with, if any. */
  deliver(
    exchange: AMQExchangeName,
    routingKey: string,
    body: Uint8Array,
    headers: Readonly<Record<string, string>> | undefined,
  ): void;
  reportError(error: unknown): void;
  readonly warnings: WarningThrottle;
}

/**
 * Decides which entries the reader read become deliveries: an entry that is
 * not a message is dropped with a warning that quotes none of it, a repeat
 * (a write Redis got twice) is dropped, an entry of a key not bound, or
 * bound after it, is skipped, and a gap before an entry — entries trimmed
 * before the reader read them — is reported once, unless Redis says it never
 * was (a forged predecessor: the entry is dropped).
 */
export class EntryFilter {
  readonly #hooks: EntryHooks;
  readonly #duplicates: DuplicateFilter;
  readonly #gaps: GapJudge;

  constructor(client: RedisClient, hooks: EntryHooks, duplicateWindowMs: number) {
    this.#hooks = hooks;
    this.#duplicates = new DuplicateFilter(duplicateWindowMs);
    this.#gaps = new GapJudge(client);
  }

  /** Call before each read's entries: what was learnt of gaps may be stale by then. */
  startRead(): void {
    this.#gaps.reset();
  }

  /**
   * Takes one stream's entries of a read, moving its cursor past each while
   * `isCurrent()` (the stream still read by that cursor, the reader running).
   * Returns the largest body among them.
   */
  async take(
    cursor: Cursor,
    entries: readonly [id: Buffer, fields: Buffer[]][],
    isCurrent: () => boolean,
  ): Promise<number> {
    const { stream } = cursor;
    const now = Date.now();
    let largestBody = 0;
    let isLagging = false;
    for (const [entryId, fields] of entries) {
      if (!isCurrent()) break;
      const id = entryId.toString();
      const before = cursor.position;
      cursor.position = id;
      const entry = parseEntry(id, fields);
      if (typeof entry === 'string') {
        this.#dropped(stream, id, entry);
        continue;
      }
      largestBody = Math.max(largestBody, entry.body.byteLength);
      // Each entry names the one before it: a later one than the last read means a gap.
      const previous = entry.previous;
      if (previous !== null && previous !== before && compareStreamIds(previous, before) > 0) {
        if (!(await this.#gaps.wasDeleted(stream, previous))) {
          this.#dropped(stream, id, 'its previous id names an entry its stream never held');
          continue;
        }
        if (!isLagging) this.#reportTrimmed(cursor);
        isLagging = true;
      }
      if (
        entry.producer !== null &&
        this.#duplicates.isDuplicate(stream, entry.producer, entry.sequence, now)
      ) {
        continue;
      }
      const boundAt = cursor.keys.get(entry.routingKey);
      if (boundAt === undefined || compareStreamIds(id, boundAt) <= 0) continue;
      if (entry.headersLeftOut > 0) {
        this.#hooks.warnings.warn(
          'left out headers of a stream entry that no sender writes (over the bounds, or not a name and printable value); delivered the message without them',
          { stream, id, headers: entry.headersLeftOut },
        );
      }
      this.#hooks.deliver(cursor.exchange, entry.routingKey, entry.body, entry.headers);
    }
    return largestBody;
  }

  /** Forgets silent producers now and then. */
  prune(now: number): void {
    this.#duplicates.prune(now);
  }

  #dropped(stream: string, id: string, reason: string): void {
    // The stream and the id locate the entry; nothing of its content is quoted.
    this.#hooks.warnings.warn(`dropped a stream entry that is not a message: ${reason}`, {
      stream,
      id,
    });
  }

  #reportTrimmed(cursor: Cursor): void {
    this.#hooks.reportError(
      new RedisStreamsLagError(
        `[${PACKAGE}] entries of ${cursor.exchange} left their stream before the reader read them, so messages were lost: ` +
          'the reader fell more than maxLength entries (or retentionMs) behind, or something deleted them; raise maxLength or retentionMs, or read faster',
      ),
    );
  }
}
