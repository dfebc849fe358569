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
/** The longest `m` read: a producer id, a sequence number and a stream entry id, with a space after each of the first two. */
const MAX_META_BYTES = MAX_PRODUCER_BYTES + 1 + 15 + 1 + 41;
/** A sequence number: a whole number from 1 to 10^15 − 1, written plainly. */
const SEQUENCE = /^[1-9]\d{0,14}$/;
/** A stream entry id: `<ms>-<seq>`, each a 64-bit number without leading zeros. */
const STREAM_ID = /^(?:0|[1-9]\d{0,19})-(?:0|[1-9]\d{0,19})$/;

/**
 * What a send hands the append script for its entry: first the entry's `m`
 * without its previous id (`<producer> <sequence> `: the script appends the
 * id of the stream's last entry), then the field/value pairs `k` and `b`.
 * Headers, when a send has any, are appended after them (`addHeaders`).
 */
export function entryFields(
  routingKey: string,
  producer: string,
  sequence: number,
  body: string | Buffer,
): (string | Buffer)[] {
  return [`${producer} ${sequence} `, 'k', routingKey, 'b', body];
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
 * Reads the fields `k` (routing key), `b` (body), `m` (`<producer>
 * <sequence> <previous id>`: the writer's random id, the sequence number of
 * its write, and the id of the entry before this one in its stream) and
 * `h:<name>` (headers). An entry written before `m` existed carries its
 * metadata as `p`, `n` and `v`, which are read the same way. `k` and `b` are
 * required; producer and sequence come together or not at all (a foreign
 * writer's entry has neither); unknown fields are ignored. A header out of
 * bounds is left out, never the message. Returns why the entry is not a
 * message, in words that quote none of its content, when it is not one.
 */
export function parseEntry(id: string, fields: readonly Buffer[]): ParsedEntry | string {
  if (fields.length > 2 * MAX_FIELDS) return `it has more than ${MAX_FIELDS} fields`;
  let key: Buffer | null = null;
  let body: Uint8Array | null = null;
  let meta: Buffer | null = null;
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
      case 0x6d: // m
        meta = value;
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
  // The metadata as text, from `m` or from an earlier version's `p`, `n` and `v`.
  let producerText: string | null;
  let sequenceText: string | null;
  let previousText: string | null;
  if (meta === null) {
    producerText = producer?.toString('latin1') ?? null;
    sequenceText = sequence?.toString('latin1') ?? null;
    previousText = previous?.toString('latin1') ?? null;
  } else {
    if (producer !== null || sequence !== null || previous !== null) {
      return 'it has both m and p, n or v';
    }
    if (meta.length > MAX_META_BYTES) return `its m is longer than ${MAX_META_BYTES} bytes`;
    // Split at its first two spaces: producer, sequence number, previous id.
    const text = meta.toString('latin1');
    const first = text.indexOf(' ');
    const second = first < 0 ? -1 : text.indexOf(' ', first + 1);
    if (second < 0) return 'its m is not a producer, a sequence number and a previous id';
    producerText = text.slice(0, first);
    sequenceText = text.slice(first + 1, second);
    previousText = text.slice(second + 1);
  }
  if ((producerText === null) !== (sequenceText === null)) {
    return 'it has a producer without a sequence number, or the reverse';
  }
  if (
    producerText !== null &&
    (producerText.length === 0 || producerText.length > MAX_PRODUCER_BYTES)
  ) {
    return `its producer is not 1 to ${MAX_PRODUCER_BYTES} bytes`;
  }
  if (sequenceText !== null && !SEQUENCE.test(sequenceText)) {
    return 'its sequence number is not a whole number from 1 to 10^15';
  }
  if (previousText !== null && !STREAM_ID.test(previousText)) {
    return 'its previous id is not a stream entry id';
  }
  if (previousText !== null && compareStreamIds(previousText, id) >= 0) {
    return 'its previous id is not before its own id';
  }
  const headers = headerAt === null ? undefined : readHeaders(fields, headerAt);
  return {
    routingKey: key.toString('utf8'),
    body,
    producer: producerText,
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
  // Parts of the same lengths order as the text does, which the engine compares fastest.
  if (aDash === bDash && a.length === b.length) return a < b ? -1 : 1;
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
