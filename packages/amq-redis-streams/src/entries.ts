import { isHeaderField, readHeaders } from './entries-headers';

type Entry = [id: Buffer, fields: Buffer[]];

/** What XREAD returns: each stream with new entries, and those entries; null when none. */
export type XReadReply = [stream: Buffer, entries: Entry[]][] | null;

/** The most fields an entry may have: ours have five, and at most 16 headers; a foreign writer's a few more. */
export const MAX_FIELDS = 32;
/** The longest routing key, in UTF-8 bytes, that the adapter sends, binds or reads. */
export const MAX_ROUTING_KEY_BYTES = 16_384;
/** The longest producer id taken from an entry (ours are 16 characters). */
const MAX_PRODUCER_BYTES = 64;
/** A sequence number: a whole number from 1 to 10^15 − 1, written plainly. */
const SEQUENCE = /^[1-9]\d{0,14}$/;
/** A stream entry id: `<ms>-<seq>`, each a 64-bit number without leading zeros. */
const STREAM_ID = /^(?:0|[1-9]\d{0,19})-(?:0|[1-9]\d{0,19})$/;

/**
 * The fields of an entry for a send (the script adds `v`); headers, when a
 * send has any, are appended after them (`addHeaders`).
 */
export function entryFields(
  routingKey: string,
  producer: string,
  sequence: number,
  body: string | Buffer,
): (string | Buffer)[] {
  return ['k', routingKey, 'p', producer, 'n', String(sequence), 'b', body];
}

/**
 * XREAD's reply as `[stream, entries][]`: RESP2 sends that shape; RESP3 sends
 * a map, which ioredis flattens to `[stream, entries, stream, entries…]`.
 */
export function streamReply(reply: unknown): XReadReply {
  if (!Array.isArray(reply) || reply.length === 0) return null;
  if (Array.isArray(reply[0])) return reply as NonNullable<XReadReply>;
  const pairs: NonNullable<XReadReply> = [];
  for (let index = 0; index + 1 < reply.length; index += 2)
    pairs.push([reply[index], reply[index + 1]]);
  return pairs;
}

export interface ParsedEntry {
  readonly routingKey: string;
  readonly body: Uint8Array;
  /** The writer's random id, with `sequence`; null for a writer that does not number its writes. */
  readonly producer: string | null;
  readonly sequence: number;
  /** The id of the entry before this one in its stream, when the writer recorded it. */
  readonly previous: string | null;
  /** The headers readers take, when the entry has any. */
  readonly headers: Record<string, string> | undefined;
  /** How many `h:` fields were left out: over the bounds, or not a header. */
  readonly headersLeftOut: number;
}

/**
 * Reads the fields `k` (routing key), `b` (body), `p` (producer), `n`
 * (sequence), `v` (previous id) and `h:<name>` (headers). `k` and `b` are
 * required; `p` and `n` come together or not at all (a foreign writer's entry
 * has neither); unknown fields are ignored. A header out of bounds is left
 * out, never the message. Returns why the entry is not a message, in words
 * that quote none of its content, when it is not one.
 */
export function parseEntry(id: string, fields: readonly Buffer[]): ParsedEntry | string {
  if (fields.length > 2 * MAX_FIELDS) return `it has more than ${MAX_FIELDS} fields`;
  let key: Buffer | null = null;
  let body: Uint8Array | null = null;
  let producer: Buffer | null = null;
  let sequence: Buffer | null = null;
  let previous: Buffer | null = null;
  let headerAt: number[] | null = null;
  for (let index = 0; index + 1 < fields.length; index += 2) {
    const name = fields[index]!;
    if (name.length !== 1) {
      if (isHeaderField(name)) {
        // Looked at once the entry is known to be a message.
        headerAt ??= [];
        headerAt.push(index);
      }
      continue;
    }
    const value = fields[index + 1]!;
    switch (name[0]) {
      case 0x6b: // k
        key = value;
        break;
      case 0x62: // b
        body = value;
        break;
      case 0x70: // p
        producer = value;
        break;
      case 0x6e: // n
        sequence = value;
        break;
      case 0x76: // v
        previous = value;
        break;
    }
  }
  if (key === null) return 'it has no routing key (k)';
  if (key.length > MAX_ROUTING_KEY_BYTES) {
    return `its routing key (k) is longer than ${MAX_ROUTING_KEY_BYTES} bytes`;
  }
  if (body === null) return 'it has no body (b)';
  if ((producer === null) !== (sequence === null)) {
    return 'it has a producer (p) without a sequence number (n), or the reverse';
  }
  if (producer !== null && (producer.length === 0 || producer.length > MAX_PRODUCER_BYTES)) {
    return `its producer (p) is not 1 to ${MAX_PRODUCER_BYTES} bytes`;
  }
  const sequenceText = sequence?.toString('latin1') ?? null;
  if (sequenceText !== null && !SEQUENCE.test(sequenceText)) {
    return 'its sequence number (n) is not a whole number from 1 to 10^15';
  }
  const previousText = previous?.toString('latin1') ?? null;
  if (previousText !== null && !STREAM_ID.test(previousText)) {
    return 'its previous id (v) is not a stream entry id';
  }
  if (previousText !== null && compareStreamIds(previousText, id) >= 0) {
    return 'its previous id (v) is not before its own id';
  }
  const headers = headerAt === null ? undefined : readHeaders(fields, headerAt);
  return {
    routingKey: key.toString('utf8'),
    body,
    producer: producer?.toString('latin1') ?? null,
    sequence: sequenceText === null ? 0 : Number(sequenceText),
    previous: previousText,
    headers: headers?.taken,
    headersLeftOut: headers?.leftOut ?? 0,
  };
}

/** Orders two stream entry ids (`<ms>-<seq>`): negative, zero or positive. */
export function compareStreamIds(a: string, b: string): number {
  if (a === b) return 0;
  // Called for every entry read: compare in place, without splitting.
  const aDash = a.indexOf('-');
  const bDash = b.indexOf('-');
  const aMs = aDash < 0 ? a.length : aDash;
  const bMs = bDash < 0 ? b.length : bDash;
  if (aMs !== bMs) return aMs - bMs;
  for (let i = 0; i < aMs; i++) {
    const diff = a.charCodeAt(i) - b.charCodeAt(i);
    if (diff !== 0) return diff;
  }
  const aSeq = aDash < 0 ? 0 : a.length - aDash - 1;
  const bSeq = bDash < 0 ? 0 : b.length - bDash - 1;
  if (aSeq !== bSeq) return aSeq - bSeq;
  for (let i = 1; i <= aSeq; i++) {
    const diff = a.charCodeAt(aDash + i) - b.charCodeAt(bDash + i);
    if (diff !== 0) return diff;
  }
  return 0;
}
