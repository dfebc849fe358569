/**
 * Broker metadata beside the body — W3C `traceparent` and `tracestate` when
 * someone traces — in the AMQP header table of a message, bounded both ways.
 * Whoever can publish to a bound key chooses a delivery's header table, and
 * amqplib has decoded all of it by then: the handler keeps only a few short
 * string headers of it, and a table over the bounds costs its extra headers,
 * never its body. The same bounds trim what is sent, so that an absurd header
 * cannot make amqplib's encoder refuse a good body either.
 */

/** The most headers kept from one message. */
const MAX_HEADERS = 16;
/** The longest header name kept, in characters. */
const MAX_NAME_LENGTH = 128;
/** The longest header value kept, in characters: a W3C `tracestate` is at most 512. */
const MAX_VALUE_LENGTH = 2_048;
/** The most characters of names and values kept from one message. */
const MAX_TOTAL_LENGTH = 4_096;

/** What was kept of a header table, and whether string headers over the bounds were left out. */
export interface BoundedHeaders {
  /** `undefined` when no header was kept. */
  readonly headers: Record<string, string> | undefined;
  readonly isTrimmed: boolean;
}

const NONE: BoundedHeaders = Object.freeze({ headers: undefined, isTrimmed: false });

/**
 * The string headers of a table, within the bounds. Headers of other types
 * (numbers, tables, arrays, byte arrays: RabbitMQ's `x-death`, other
 * clients' own) are not trace context and are skipped without a word.
 */
export function boundHeaders(table: unknown): BoundedHeaders {
  if (table === null || typeof table !== 'object') return NONE;
  let headers: Record<string, string> | undefined;
  let count = 0;
  let total = 0;
  let isTrimmed = false;
  for (const name in table) {
    if (!Object.hasOwn(table, name)) continue;
    const value: unknown = (table as Record<string, unknown>)[name];
    if (typeof value !== 'string') continue;
    const length = name.length + value.length;
    if (
      count === MAX_HEADERS ||
      name.length > MAX_NAME_LENGTH ||
      value.length > MAX_VALUE_LENGTH ||
      total + length > MAX_TOTAL_LENGTH ||
      name === '__proto__'
    ) {
      isTrimmed = true;
      // Past the count, nothing more can be kept: the rest of a huge table is not read.
      if (count === MAX_HEADERS) break;
      continue;
    }
    headers ??= {};
    headers[name] = value;
    count++;
    total += length;
  }
  return headers === undefined && !isTrimmed ? NONE : { headers, isTrimmed };
}
