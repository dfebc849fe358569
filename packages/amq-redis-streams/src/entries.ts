type Entry = [id: Buffer, fields: Buffer[]];

/** What XREAD returns: each stream with new entries, and those entries; null when none. */
export type XReadReply = [stream: Buffer, entries: Entry[]][] | null;

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
  readonly producer: string | null;
  readonly sequence: number;
  /** The id of the entry before this one in its stream, when the writer recorded it. */
  readonly previous: string | null;
}

/** Reads the fields `k` (routing key), `b` (body), `p` (producer) and `n` (sequence); null when `k` or `b` lacks. */
export function parseEntry(fields: Buffer[]): ParsedEntry | null {
  let routingKey: string | null = null;
  let body: Uint8Array | null = null;
  let producer: string | null = null;
  let sequence = Number.NaN;
  let previous: string | null = null;
  for (let index = 0; index + 1 < fields.length; index += 2) {
    const name = fields[index]!.toString('latin1');
    const value = fields[index + 1]!;
    if (name === 'k') routingKey = value.toString('utf8');
    else if (name === 'b') body = value;
    else if (name === 'p') producer = value.toString('latin1');
    else if (name === 'n') sequence = Number(value.toString('latin1'));
    else if (name === 'v') previous = value.toString('latin1');
  }
  if (routingKey === null || body === null) return null;
  const hasSequence = Number.isSafeInteger(sequence);
  return { routingKey, body, producer: hasSequence ? producer : null, sequence, previous };
}
