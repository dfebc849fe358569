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

/** The most metadata headers (trace context) a message carries. */
export const MAX_METADATA_HEADERS = 16;
/** The most characters of metadata (names and values) a message carries. */
export const MAX_METADATA_CHARS = 4096;
/**
 * The most headers a received message may have for its metadata to be read:
 * the client's `get()` scans every header, so reading a few of a flood would
 * cost the square of it.
 */
const MAX_HEADERS_READ = 64;
/** What NATS takes in a header name (visible ASCII but `:`), 64 characters at most. */
const HEADER_NAME = /^[!-9;-~]{1,64}$/;
const LINE_BREAK = /[\r\n]/;

/** One NATS message of a TeaL message: the whole body, or one chunk of it. */
export interface Part {
  readonly data: Uint8Array;
  /** The chunk header when the body was split; the metadata on the first part. */
  readonly headers?: MsgHdrs;
  /** Unique per part of this message: JetStream deduplicates retried sends by it. */
  readonly id: string;
}

/** A body larger than `maxMessageBytes`: it is never sent. */
export class NatsMessageTooLargeError extends AMQSendError {
  static override readonly kind: string = 'NatsMessageTooLargeError';
  override name = 'NatsMessageTooLargeError';
}

/**
 * Splits a body into parts of at most `limit` bytes, headers included. A body
 * that fits is one part, as any NATS client would send it. `metadata` rides
 * the first part only: it describes the message, and the receiver keeps the
 * first chunk's with the set it opens; every part leaves room for it, so
 * that the chunks of a set keep one size.
 */
export function splitBody(
  message: string | Uint8Array,
  limit: number,
  maxMessageBytes: number,
  metadata?: Metadata,
): Part[] {
  const body = typeof message === 'string' ? utf8.encode(message) : message;
  const id = nuid.next();
  if (body.length > maxMessageBytes) {
    throw new NatsMessageTooLargeError(
      `[@teal/amq-nats] the message is ${body.length} bytes; maxMessageBytes allows ${maxMessageBytes}`,
    );
  }
  const room = HEADER_ROOM + (metadata?.bytes ?? 0);
  if (body.length + room <= limit) {
    return [
      metadata === undefined ? { data: body, id } : { data: body, id, headers: metadata.headers },
    ];
  }
  const size = limit - room;
  if (size < HEADER_ROOM) {
    throw new AMQSendError(
      `[@teal/amq-nats] the server takes messages of ${limit} bytes only: too small to carry chunks`,
    );
  }
  const count = Math.ceil(body.length / size);
  return Array.from({ length: count }, (_, index) => {
    const chunk = index === 0 && metadata !== undefined ? copyOf(metadata.headers) : headers();
    chunk.set(CHUNK_HEADER, `${id} ${index} ${count} ${body.length}`);
    return {
      data: body.subarray(index * size, (index + 1) * size),
      headers: chunk,
      id: `${id}-${index}`,
    };
  });
}

/** Metadata (trace context) as NATS headers. */
export interface Metadata {
  readonly headers: MsgHdrs;
  /** What they take in a message, in bytes. */
  readonly bytes: number;
}

/**
 * `metadata` as NATS headers, and how many of its entries were left out: a
 * name NATS cannot carry, a value on two lines, a name of ours or the
 * server's (`Teal-…`, `Nats-…`), anything past `MAX_METADATA_HEADERS` or
 * `MAX_METADATA_CHARS`. A bad header never costs the body it travels with.
 */
export function encodeMetadata(metadata: Readonly<Record<string, string>>): {
  metadata: Metadata | undefined;
  skipped: number;
} {
  const encoded = headers();
  let count = 0;
  let chars = 0;
  let bytes = 0;
  let skipped = 0;
  for (const [name, value] of Object.entries(metadata)) {
    const size = name.length + value.length;
    if (
      !isMetadataName(name) ||
      typeof value !== 'string' ||
      LINE_BREAK.test(value) ||
      count === MAX_METADATA_HEADERS ||
      chars + size > MAX_METADATA_CHARS
    ) {
      skipped++;
      continue;
    }
    encoded.set(name, value);
    count++;
    chars += size;
    // `name: value\r\n`
    bytes += utf8.encode(name).length + utf8.encode(value).length + 4;
  }
  return { metadata: count === 0 ? undefined : { headers: encoded, bytes }, skipped };
}

/**
 * The metadata a received message carries — its headers but ours and the
 * server's, names in lower case (HTTP's convention for `traceparent`) — and
 * how many were left out by the same rules as on the way out. A message with
 * more than `MAX_HEADERS_READ` headers gives none.
 */
export function decodeMetadata(received: MsgHdrs): {
  metadata: Readonly<Record<string, string>> | undefined;
  skipped: number;
} {
  const names = received.keys();
  if (names.length > MAX_HEADERS_READ) return { metadata: undefined, skipped: names.length };
  let metadata: Record<string, string> | undefined;
  let count = 0;
  let chars = 0;
  let skipped = 0;
  for (const name of names) {
    if (isReserved(name)) continue;
    const value = received.get(name);
    const size = name.length + value.length;
    const key = name.toLowerCase();
    if (
      !HEADER_NAME.test(name) ||
      count === MAX_METADATA_HEADERS ||
      chars + size > MAX_METADATA_CHARS ||
      (metadata !== undefined && Object.hasOwn(metadata, key))
    ) {
      skipped++;
      continue;
    }
    metadata ??= Object.create(null) as Record<string, string>;
    metadata[key] = value;
    count++;
    chars += size;
  }
  return { metadata, skipped };
}

function isMetadataName(name: string): boolean {
  return HEADER_NAME.test(name) && !isReserved(name);
}

/** Headers the adapter (`Teal-Chunk`) or NATS (`Nats-Msg-Id`, `Nats-Expected-…`) gives a meaning. */
function isReserved(name: string): boolean {
  const prefix = name.slice(0, 5).toLowerCase();
  return prefix === 'teal-' || prefix === 'nats-';
}

function copyOf(source: MsgHdrs): MsgHdrs {
  const copy = headers();
  for (const name of source.keys()) copy.set(name, source.get(name));
  return copy;
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
