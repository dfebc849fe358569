import { headers, type Msg, type MsgHdrs, nuid } from '@nats-io/transport-node';
import { type AMQExchangeName, AMQSendError, type Logger } from '@teal/amq-core/adapter';

/** `<message id> <index> <count> <total bytes>` on each chunk of a message too large for one NATS message. */
export const CHUNK_HEADER = 'Teal-Chunk';
/** Room left in each chunk for headers (chunk and JetStream message id). */
const HEADER_ROOM = 1024;

/** One NATS message of a TeaL message: the whole body, or one chunk of it. */
export interface Part {
  readonly data: Uint8Array;
  /** The chunk header, when the body was split. */
  readonly headers?: MsgHdrs;
  /** Unique per part of this message: JetStream deduplicates retried sends by it. */
  readonly id: string;
}

/** A body larger than `maxMessageBytes`: it is never sent. */
export class NatsMessageTooLargeError extends AMQSendError {
  override name = 'NatsMessageTooLargeError';
}

/**
 * Splits a body into parts of at most `limit` bytes, headers included. A body
 * that fits is one part without a header, as any NATS client would send it.
 */
export function splitBody(body: Uint8Array, limit: number, maxMessageBytes: number): Part[] {
  const id = nuid.next();
  if (body.length > maxMessageBytes) {
    throw new NatsMessageTooLargeError(
      `[@teal/amq-nats] the message is ${body.length} bytes; maxMessageBytes allows ${maxMessageBytes}`,
    );
  }
  if (body.length + HEADER_ROOM <= limit) return [{ data: body, id }];
  const size = limit - HEADER_ROOM;
  if (size < HEADER_ROOM) {
    throw new AMQSendError(
      `[@teal/amq-nats] the server takes messages of ${limit} bytes only: too small to carry chunks`,
    );
  }
  const count = Math.ceil(body.length / size);
  return Array.from({ length: count }, (_, index) => {
    const chunk = headers();
    chunk.set(CHUNK_HEADER, `${id} ${index} ${count} ${body.length}`);
    return {
      data: body.subarray(index * size, (index + 1) * size),
      headers: chunk,
      id: `${id}-${index}`,
    };
  });
}

interface Pending {
  readonly parts: Array<Uint8Array | undefined>;
  readonly total: number;
  readonly timer: NodeJS.Timeout;
  received: number;
  bytes: number;
}

/**
 * Puts chunked messages back together: a body is handed over only once every
 * chunk arrived, in order of index. A set that stays incomplete for
 * `timeoutMs` is dropped with a warning naming its sizes. A set whose first
 * chunk was never seen (the key was bound mid-message) is ignored quietly.
 */
export class Reassembler {
  readonly #pending = new Map<string, Pending>();
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #maxMessageBytes: number;

  constructor(logger: Logger, timeoutMs: number, maxMessageBytes: number) {
    this.#logger = logger;
    this.#timeoutMs = timeoutMs;
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** The whole body `msg` completes, its own data when not chunked, or `undefined`. */
  accept(exchange: AMQExchangeName, msg: Msg): Uint8Array | undefined {
    const header = msg.headers?.get(CHUNK_HEADER);
    if (header === undefined || header === '') return msg.data;
    const [id, index, count, total] = parseChunkHeader(header);
    if (id === '' || !(index >= 0 && index < count && total <= this.#maxMessageBytes)) {
      this.#logger.warn('dropped a chunk with an unusable header', {
        exchange,
        chunkBytes: msg.data.length,
      });
      return undefined;
    }
    const setId = `${msg.subject} ${id}`;
    let pending = this.#pending.get(setId);
    if (pending === undefined) {
      if (index !== 0) return undefined;
      const timer = setTimeout(() => this.#expire(setId, exchange), this.#timeoutMs);
      timer.unref();
      pending = { parts: new Array(count), total, timer, received: 0, bytes: 0 };
      this.#pending.set(setId, pending);
    }
    if (pending.parts.length !== count || pending.parts[index] !== undefined) return undefined;
    pending.parts[index] = msg.data;
    pending.received++;
    pending.bytes += msg.data.length;
    if (pending.received < count) return undefined;
    clearTimeout(pending.timer);
    this.#pending.delete(setId);
    if (pending.bytes !== pending.total) {
      this.#logger.warn('dropped a large message whose chunks do not add up', {
        exchange,
        expectedBytes: pending.total,
        receivedBytes: pending.bytes,
      });
      return undefined;
    }
    const body = new Uint8Array(pending.total);
    let offset = 0;
    for (const part of pending.parts as Uint8Array[]) {
      body.set(part, offset);
      offset += part.length;
    }
    return body;
  }

  /** Forgets every incomplete set. */
  clear(): void {
    for (const pending of this.#pending.values()) clearTimeout(pending.timer);
    this.#pending.clear();
  }

  #expire(setId: string, exchange: AMQExchangeName): void {
    const pending = this.#pending.get(setId);
    if (pending === undefined) return;
    this.#pending.delete(setId);
    this.#logger.warn('dropped a large message whose chunks did not all arrive in time', {
      exchange,
      expectedBytes: pending.total,
      receivedBytes: pending.bytes,
      receivedChunks: pending.received,
      chunks: pending.parts.length,
      timeoutMs: this.#timeoutMs,
    });
  }
}

function parseChunkHeader(header: string): [string, number, number, number] {
  const [id = '', index, count, total] = header.split(' ');
  return [id, strictInteger(index), strictInteger(count), strictInteger(total)];
}

function strictInteger(text: string | undefined): number {
  return text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
}
