import type { AMQExchangeName } from '@teal/amq-core/adapter';

const utf8 = new TextEncoder();

/**
 * The stream keys of one exchange prefix. Every key carries the same hash
 * tag, `{p:<escaped prefix>}`, so one XREAD over all of a handler's streams
 * touches a single Redis Cluster slot; the tag is never empty (an empty tag
 * would hash the whole key) and never holds a raw `{` or `}`.
 *
 *     teal:{p:<prefix>}:<exchange>:<bucket>     messages of the keys hashed to <bucket>
 *     teal:{p:<prefix>}:wake:<handler id>       wake-up entries of one handler's reader
 *     teal:{p:<prefix>}:last:<stream's rest>    the id of a stream's last entry (a string)
 */
export class StreamKeys {
  /** `teal:{p:<escaped prefix>}`: what every key of this prefix starts with. */
  readonly base: string;
  readonly buckets: number;
  readonly #appendKeys = new Map<AMQExchangeName, (readonly [string, string])[]>();

  constructor(exchangePrefix: string, buckets: number) {
    this.base = `teal:{p:${escapeTag(exchangePrefix)}}`;
    this.buckets = buckets;
  }

  /** The stream that carries the messages of this routing key. */
  bucketStream(exchange: AMQExchangeName, routingKey: string): string {
    return this.appendKeys(exchange, routingKey)[0];
  }

  /** The stream a handler's blocked reader watches to be woken up when its streams change. */
  wakeStream(handlerId: string): string {
    return `${this.base}:wake:${handlerId}`;
  }

  /**
   * What a send to this routing key writes: its bucket stream and that
   * stream's last-id key, made once per bucket rather than once per send.
   */
  appendKeys(exchange: AMQExchangeName, routingKey: string): readonly [string, string] {
    let byBucket = this.#appendKeys.get(exchange);
    if (byBucket === undefined) {
      byBucket = [];
      this.#appendKeys.set(exchange, byBucket);
    }
    const bucket = bucketOf(routingKey, this.buckets);
    if (byBucket[bucket] === undefined) {
      const stream = `${this.base}:${exchange}:${bucket}`;
      byBucket[bucket] = [stream, this.lastIdKey(stream)];
    }
    return byBucket[bucket];
  }

  /** The string key that holds the id of `stream`'s last entry, beside it in the same slot. */
  lastIdKey(stream: string): string {
    return `${this.base}:last${stream.slice(this.base.length)}`;
  }

  /** A `SCAN MATCH` pattern for every key of this prefix. */
  get pattern(): string {
    return `${this.base.replace(/[\\*?[\]]/g, '\\$&')}:*`;
  }
}

/**
 * The bucket of a routing key: FNV-1a (32 bits) of its UTF-8 bytes, modulo
 * the bucket count. Stable across processes and versions: every handler of a
 * prefix must agree on it.
 */
export function bucketOf(routingKey: string, buckets: number): number {
  let hash = 0x811c9dc5;
  for (const byte of utf8.encode(routingKey)) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return hash % buckets;
}

/** Percent-encodes `%`, `{` and `}`: injective, and leaves no brace to end the hash tag early. */
function escapeTag(prefix: string): string {
  return prefix.replace(/[%{}]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}
