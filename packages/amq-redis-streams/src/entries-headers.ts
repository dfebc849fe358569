/**
 * Headers — trace context, when someone traces — ride in a stream entry as
 * one field each, `h:<name>`, beside the body `b`, which stays as the Python
 * original reads it. Both sides keep to the same bounds: a sender leaves out
 * what a reader would not take, and a reader leaves out (never the message)
 * what a foreign or hostile writer added beyond them.
 */

/** The most headers an entry carries: W3C trace context is two. */
export const MAX_HEADERS = 16;
/** The longest header name, in bytes, after `h:`. */
export const MAX_HEADER_NAME_BYTES = 64;
/** The most bytes of header values in one entry: W3C asks `tracestate` to be kept up to 512. */
export const MAX_HEADER_BYTES = 8_192;
/** A header name: letters, digits, `_`, `.` and `-`, starting with a letter or digit. */
const HEADER_NAME = /^[A-Za-z0-9][\w.-]*$/;
/** A header value: printable ASCII, as W3C trace context is; nothing that could forge a log line. */
const HEADER_VALUE = /^[\x20-\x7e]*$/;
/** `h:`, before a header's name in its field's name. */
const PREFIX = 'h:';

/** Whether an entry's field name is a header's: `h:` and at least one more byte. */
export function isHeaderField(name: Buffer): boolean {
  return name.length > PREFIX.length && name[0] === 0x68 && name[1] === 0x3a;
}

/** Appends each header as a field `h:<name>`, within the bounds readers keep; how many it left out. */
export function addHeaders(
  fields: (string | Buffer)[],
  headers: Readonly<Record<string, string>>,
): number {
  let count = 0;
  let bytes = 0;
  let leftOut = 0;
  for (const [name, value] of Object.entries(headers)) {
    const size = Buffer.byteLength(value);
    if (count === MAX_HEADERS || bytes + size > MAX_HEADER_BYTES || !isHeader(name, value)) {
      leftOut++;
      continue;
    }
    count++;
    bytes += size;
    fields.push(PREFIX + name, value);
  }
  return leftOut;
}

/** Lengths first: no pattern runs over more than the bounds allow. */
function isHeader(name: string, value: string): boolean {
  return (
    name.length <= MAX_HEADER_NAME_BYTES &&
    HEADER_NAME.test(name) &&
    value.length <= MAX_HEADER_BYTES &&
    HEADER_VALUE.test(value)
  );
}

/**
 * The headers of the `h:` fields at `indices` (each a field name, its value
 * next): a name seen twice, a name or value out of bounds, or one past the
 * count or byte bounds is left out, its bytes weighed before they are decoded.
 */
export function readHeaders(
  fields: readonly Buffer[],
  indices: readonly number[],
): { taken: Record<string, string> | undefined; leftOut: number } {
  let taken: Record<string, string> | undefined;
  let count = 0;
  let bytes = 0;
  let leftOut = 0;
  for (const index of indices) {
    const name = fields[index]!;
    const value = fields[index + 1]!;
    if (
      count === MAX_HEADERS ||
      name.length - PREFIX.length > MAX_HEADER_NAME_BYTES ||
      bytes + value.length > MAX_HEADER_BYTES
    ) {
      leftOut++;
      continue;
    }
    const headerName = name.toString('latin1', PREFIX.length);
    const headerValue = value.toString('latin1');
    if (
      !HEADER_NAME.test(headerName) ||
      !HEADER_VALUE.test(headerValue) ||
      (taken !== undefined && Object.hasOwn(taken, headerName))
    ) {
      leftOut++;
      continue;
    }
    taken ??= {};
    taken[headerName] = headerValue;
    count++;
    bytes += value.length;
  }
  return { taken, leftOut };
}
