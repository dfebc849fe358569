import { headers, type MsgHdrs, nuid } from '@nats-io/transport-node';
import { AMQSendError } from '@teal/amq-core/adapter';

const utf8 = new TextEncoder();

/** `<message id> <index> <count> <total bytes>` on each chunk of a message too large for one NATS message. */
export const CHUNK_HEADER = 'Teal-Chunk';
/** Room left in each chunk for headers (chunk and JetStream message id). */
const HEADER_ROOM = 1024;
/** Every chunk but the last of a set is at least this large: a sender never makes smaller ones. */
export const MIN_CHUNK_BYTES = HEADER_ROOM;
/** The longest chunk header a sender writes is about 60 characters: anything much longer is forged. */
const MAX_CHUNK_HEADER_LENGTH = 128;
const CHUNK_ID = /^[A-Za-z0-9_-]{1,64}$/;
const DECIMAL = /^\d{1,15}$/;

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
export function splitBody(
  message: string | Uint8Array,
  limit: number,
  maxMessageBytes: number,
): Part[] {
  const body = typeof message === 'string' ? utf8.encode(message) : message;
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

/** What a chunk header announces, once checked against the limits any real sender keeps. */
export interface ChunkHeader {
  readonly id: string;
  readonly index: number;
  readonly count: number;
  readonly total: number;
}

/**
 * Reads a chunk header, or `undefined` when no sender of ours could have
 * written it: too long, malformed, an index past the count, a total over
 * `maxMessageBytes`, or more chunks than the total could fill at the smallest
 * chunk size (`x 0 99999999999 10`). Linear in the header's length, which is
 * capped first.
 */
export function parseChunkHeader(header: string, maxMessageBytes: number): ChunkHeader | undefined {
  if (header.length > MAX_CHUNK_HEADER_LENGTH) return undefined;
  const fields = header.split(' ');
  if (fields.length !== 4) return undefined;
  const [id = '', index, count, total] = fields;
  if (!CHUNK_ID.test(id)) return undefined;
  const parsed = { id, index: decimal(index), count: decimal(count), total: decimal(total) };
  if (!(parsed.total >= 1 && parsed.total <= maxMessageBytes)) return undefined;
  if (!(parsed.count >= 1 && parsed.count <= Math.ceil(parsed.total / MIN_CHUNK_BYTES))) {
    return undefined;
  }
  if (!(parsed.index >= 0 && parsed.index < parsed.count)) return undefined;
  return parsed;
}

function decimal(text: string | undefined): number {
  return text !== undefined && DECIMAL.test(text) ? Number(text) : Number.NaN;
}
