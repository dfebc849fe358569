import { AMQError } from '@teal/amq-core/adapter';
import { compareStreamIds } from './entries';

interface StreamInspector {
  call(command: string, ...args: string[]): Promise<unknown>;
}

/**
 * Tells a real gap in a stream from a forged one. Each entry names the entry
 * before it (the last part of `m`); when that is later than the last entry the
 * reader read, the entries between were removed before it read them — or the
 * writer lied. Redis knows which (XINFO STREAM): a stream that never lost an
 * entry (Redis 7: `entries-added` equals `length`) has no gap; an id removed
 * by XDEL is at most its `max-deleted-entry-id`; trimming removes the oldest
 * entries, so a trimmed id is before the stream's first entry. An id that is
 * none of these was never in the stream (the reader would have read it): the
 * entry is forged.
 */
export class GapJudge {
  readonly #client: StreamInspector;
  /** Per stream, for one read: the predicate, so that a batch of suspects costs one XINFO. */
  readonly #verdicts = new Map<string, (previous: string) => boolean>();

  constructor(client: StreamInspector) {
    this.#client = client;
  }

  /** Forgets what was learnt: call before each read's batch. */
  reset(): void {
    this.#verdicts.clear();
  }

  /** Whether the entry named `previous` really was in `stream` and is gone: messages were lost. */
  async wasDeleted(stream: string, previous: string): Promise<boolean> {
    let verdict = this.#verdicts.get(stream);
    if (verdict === undefined) {
      verdict = await this.#inspect(stream);
      this.#verdicts.set(stream, verdict);
    }
    return verdict(previous);
  }

  async #inspect(stream: string): Promise<(previous: string) => boolean> {
    let info: unknown;
    try {
      info = await this.#client.call('XINFO', 'STREAM', stream);
    } catch {
      // The stream is gone (deleted, expired) or unreadable: a loss cannot be ruled out, so report it.
      return () => true;
    }
    const fields = new Map<string, unknown>();
    if (Array.isArray(info)) {
      for (let index = 0; index + 1 < info.length; index += 2) {
        fields.set(String(info[index]), info[index + 1]);
      }
    }
    const maxDeleted = fields.get('max-deleted-entry-id');
    const added = fields.get('entries-added');
    const neverLostOne = added !== undefined && String(added) === String(fields.get('length'));
    const first = fields.get('first-entry');
    const firstId = Array.isArray(first) ? String(first[0]) : null;
    return (previous) => {
      if (typeof maxDeleted === 'string' && compareStreamIds(previous, maxDeleted) <= 0)
        return true;
      if (neverLostOne) return false;
      // An empty stream was trimmed past everything.
      return firstId === null || compareStreamIds(previous, firstId) < 0;
    };
  }
}

/**
 * A reader fell so far behind that its stream was trimmed (by `maxLength`)
 * past entries it had not read: messages were, or are about to be, lost.
 */
export class RedisStreamsLagError extends AMQError {
  static override readonly kind: string = 'RedisStreamsLagError';
  override name = 'RedisStreamsLagError';
}
