import type { Msg, MsgHdrs } from '@nats-io/transport-node';
import type { AMQExchangeName, Logger } from '@teal/amq-core/adapter';
import {
  CHUNK_HEADER,
  type ChunkHeader,
  decodeMetadata,
  MIN_CHUNK_BYTES,
  parseChunkHeader,
} from './publisher-chunks';

type Headers = Readonly<Record<string, string>>;

/** A whole message: its body, and the metadata its first chunk carried. */
export interface Whole {
  readonly body: Uint8Array;
  readonly headers: Headers | undefined;
}

/** The most large messages reassembled at once; a new one beyond it drops the oldest. */
export const MAX_PENDING_SETS = 64;

interface Pending {
  readonly exchange: AMQExchangeName;
  readonly parts: Array<Uint8Array | undefined>;
  readonly total: number;
  /** The size of every chunk but the last, set by the first. */
  readonly chunkBytes: number;
  readonly headers: Headers | undefined;
  readonly timer: NodeJS.Timeout;
  received: number;
  bytes: number;
}

/**
 * Puts chunked messages back together: a body is handed over only once every
 * chunk arrived, in order of index. A header no sender of ours could write, or
 * a chunk whose size does not fit its set, is dropped with a warning (sizes
 * and the exchange only: headers and bodies come from anyone who may publish).
 * What waits is bounded: `MAX_PENDING_SETS` sets and `maxPendingBytes` bytes,
 * the oldest set dropped first; a set still incomplete after `timeoutMs` is
 * dropped too. A set whose first chunk was never seen (the key was bound
 * mid-message) is ignored quietly. The metadata of a message comes from its
 * first chunk, bounded (see `decodeMetadata`): what is left out of it is
 * counted in a warning, and the body is delivered all the same.
 */
export class Reassembler {
  readonly #pending = new Map<string, Pending>();
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #maxMessageBytes: number;
  readonly #maxPendingBytes: number;
  #pendingBytes = 0;

  constructor(logger: Logger, timeoutMs: number, maxMessageBytes: number) {
    this.#logger = logger;
    this.#timeoutMs = timeoutMs;
    this.#maxMessageBytes = maxMessageBytes;
    // Room for two messages of the largest size at once.
    this.#maxPendingBytes = 2 * maxMessageBytes;
  }

  /** Bytes of incomplete messages held now. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** The whole message `msg` completes, itself when not chunked, or `undefined`. */
  accept(exchange: AMQExchangeName, msg: Msg): Whole | undefined {
    const received = msg.headers;
    const header = received?.get(CHUNK_HEADER);
    if (header === undefined || header === '') {
      return { body: msg.data, headers: this.#metadataOf(exchange, received) };
    }
    const chunk = parseChunkHeader(header, this.#maxMessageBytes);
    if (chunk === undefined) {
      this.#logger.warn('dropped a chunk with an unusable header', {
        exchange,
        chunkBytes: msg.data.length,
      });
      return undefined;
    }
    const setId = `${msg.subject} ${chunk.id}`;
    let pending = this.#pending.get(setId);
    if (pending === undefined) {
      if (chunk.index !== 0) return undefined;
      if (!isFirstChunkOf(chunk, msg.data.length)) {
        this.#logger.warn('dropped a chunk whose size does not fit its header', {
          exchange,
          chunkBytes: msg.data.length,
          expectedBytes: chunk.total,
          chunks: chunk.count,
        });
        return undefined;
      }
      pending = this.#open(setId, exchange, chunk, msg.data.length, received);
    } else if (pending.parts.length !== chunk.count || pending.total !== chunk.total) {
      this.#drop(setId, 'dropped a large message whose chunks disagree on its size');
      return undefined;
    }
    if (pending.parts[chunk.index] !== undefined) return undefined;
    if (msg.data.length !== expectedSize(pending, chunk.index)) {
      this.#drop(setId, 'dropped a large message whose chunks do not add up');
      return undefined;
    }
    pending.parts[chunk.index] = msg.data;
    pending.received++;
    pending.bytes += msg.data.length;
    this.#pendingBytes += msg.data.length;
    if (pending.received < pending.parts.length) {
      this.#bound(setId);
      return undefined;
    }
    this.#forget(setId, pending);
    const body = new Uint8Array(pending.total);
    let offset = 0;
    for (const part of pending.parts as Uint8Array[]) {
      body.set(part, offset);
      offset += part.length;
    }
    return { body, headers: pending.headers };
  }

  /** Forgets every incomplete set. */
  clear(): void {
    for (const pending of this.#pending.values()) clearTimeout(pending.timer);
    this.#pending.clear();
    this.#pendingBytes = 0;
  }

  /** The metadata of a message's headers, warning of what was left out of it (counts only). */
  #metadataOf(exchange: AMQExchangeName, received: MsgHdrs | undefined): Headers | undefined {
    if (received === undefined) return undefined;
    const { metadata, skipped } = decodeMetadata(received);
    if (skipped > 0) {
      this.#logger.warn('left out message headers no sender of ours writes', {
        exchange,
        droppedHeaders: skipped,
      });
    }
    return metadata;
  }

  #open(
    setId: string,
    exchange: AMQExchangeName,
    chunk: ChunkHeader,
    size: number,
    received: MsgHdrs | undefined,
  ): Pending {
    while (this.#pending.size >= MAX_PENDING_SETS) {
      this.#drop(this.#oldest(), 'dropped the oldest incomplete large message: too many at once');
    }
    const timer = setTimeout(
      () => this.#drop(setId, 'dropped a large message whose chunks did not all arrive in time'),
      this.#timeoutMs,
    );
    timer.unref();
    // `count` is at most maxMessageBytes / MIN_CHUNK_BYTES here: the array stays small.
    const pending: Pending = {
      exchange,
      parts: new Array<Uint8Array | undefined>(chunk.count),
      total: chunk.total,
      chunkBytes: size,
      headers: this.#metadataOf(exchange, received),
      timer,
      received: 0,
      bytes: 0,
    };
    this.#pending.set(setId, pending);
    return pending;
  }

  /** Drops the oldest sets, never `current`, while the pending bytes exceed their bound. */
  #bound(current: string): void {
    while (this.#pendingBytes > this.#maxPendingBytes && this.#pending.size > 1) {
      const oldest = this.#oldest();
      const victim = oldest === current ? [...this.#pending.keys()][1]! : oldest;
      this.#drop(victim, 'dropped the oldest incomplete large message: too many bytes waiting');
    }
  }

  #oldest(): string {
    return this.#pending.keys().next().value as string;
  }

  #drop(setId: string, message: string): void {
    const pending = this.#pending.get(setId);
    if (pending === undefined) return;
    this.#forget(setId, pending);
    this.#logger.warn(message, {
      exchange: pending.exchange,
      expectedBytes: pending.total,
      receivedBytes: pending.bytes,
      receivedChunks: pending.received,
      chunks: pending.parts.length,
    });
  }

  #forget(setId: string, pending: Pending): void {
    clearTimeout(pending.timer);
    this.#pending.delete(setId);
    this.#pendingBytes -= pending.bytes;
  }
}

/** Whether a first chunk of `size` bytes is what a sender splitting `total` bytes in `count` makes. */
function isFirstChunkOf(chunk: ChunkHeader, size: number): boolean {
  if (chunk.count === 1) return size === chunk.total;
  return size >= MIN_CHUNK_BYTES && Math.ceil(chunk.total / size) === chunk.count;
}

function expectedSize(pending: Pending, index: number): number {
  const last = pending.parts.length - 1;
  return index < last ? pending.chunkBytes : pending.total - pending.chunkBytes * last;
}
