import { type AMQExchangeName, raceSignal } from '@teal/amq-core/adapter';
import type { CommandConnection } from './connection-command';

/** One stream the reader reads, and the keys bound in it. */
export interface Cursor {
  readonly stream: string;
  readonly exchange: AMQExchangeName;
  /** The id of the last entry read: the next XREAD starts after it. */
  position: string;
  /** Each bound key and the stream's last id when it was bound (its bind point): older entries are not its. */
  readonly keys: Map<string, string>;
  /** When to look again at a key that held another type than a stream; 0 while it is read. */
  recheckAt: number;
}

/**
 * What a handler holds per bound key — nothing in Redis: a binding is the
 * key's bind point in the cursor of its bucket stream, which the reader lists
 * in every XREAD. So there is nothing to restore after a reconnect beyond
 * the XREAD itself, which ioredis sends again with the same positions: the
 * bindings are whole again once the reader's connection is ready, and an
 * unbind made during an outage leaves nothing to undo in Redis.
 */
export class StreamCursors {
  readonly #cursors = new Map<string, Cursor>();

  get isEmpty(): boolean {
    return this.#cursors.size === 0;
  }

  get(stream: string): Cursor | undefined {
    return this.#cursors.get(stream);
  }

  values(): IterableIterator<Cursor> {
    return this.#cursors.values();
  }

  /** Every bound (exchange, key). */
  *bindings(): Iterable<readonly [AMQExchangeName, string]> {
    for (const cursor of this.#cursors.values()) {
      for (const key of cursor.keys.keys()) yield [cursor.exchange, key];
    }
  }

  /** Binds the key from `boundAt`; a stream new to the reader is read from there. Whether the stream is new. */
  add(exchange: AMQExchangeName, stream: string, routingKey: string, boundAt: string): boolean {
    let cursor = this.#cursors.get(stream);
    const isNew = cursor === undefined;
    if (cursor === undefined) {
      cursor = { stream, exchange, position: boundAt, keys: new Map(), recheckAt: 0 };
      this.#cursors.set(stream, cursor);
    }
    cursor.keys.set(routingKey, boundAt);
    return isNew;
  }

  /** Unbinds the key; a stream left without keys is no longer read. */
  remove(stream: string, routingKey: string): void {
    const cursor = this.#cursors.get(stream);
    if (cursor === undefined) return;
    cursor.keys.delete(routingKey);
    if (cursor.keys.size === 0) this.#cursors.delete(stream);
  }
}

/**
 * Bind points: the id of a stream's last entry (`0-0` if none) when a key is
 * bound, so that everything the key receives after `bind()` resolves is
 * delivered, and nothing before. Binds made in one tick share one XREVRANGE
 * per stream (10,000 binds are mostly of a few buckets).
 */
export class BindPoints {
  readonly #command: CommandConnection;
  readonly #pending = new Map<string, Promise<string>>();

  constructor(command: CommandConnection) {
    this.#command = command;
  }

  lastId(stream: string, signal: AbortSignal): Promise<string> {
    let lastId = this.#pending.get(stream);
    if (lastId === undefined) {
      lastId = this.#command.run(async () => {
        const entries = await this.#command.client.xrevrange(stream, '+', '-', 'COUNT', 1);
        return entries[0]?.[0] ?? '0-0';
      }, signal);
      this.#pending.set(stream, lastId);
      // Shared only by binds made before the command could reach Redis.
      process.nextTick(() => this.#pending.delete(stream));
    }
    return raceSignal(lastId, signal);
  }
}
