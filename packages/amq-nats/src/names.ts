import { AMQError, type AMQExchangeName } from '@teal/amq-core/adapter';

/**
 * The longest routing key, in UTF-8 bytes. Escaping can triple it in the
 * subject, and a subject must fit the server's control line (4 KiB by
 * default, `max_control_line`) with the prefix, the reply inbox and sizes.
 */
export const MAX_ROUTING_KEY_BYTES = 1024;

const utf8 = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the key, not a byte-order mark to strip.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const HEX = '0123456789ABCDEF';
/** The token of the empty string: `_` alone never appears in another token. */
const EMPTY_TOKEN = '_';
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Encodes any string as one NATS subject token, reversibly and without
 * collisions: ASCII letters, digits and `-` stay as they are, every other
 * UTF-8 byte (`_` itself included) becomes `_XX` in upper-case hex. The token
 * is never empty and never holds `.`, `*`, `>` or whitespace, so it can
 * neither split a subject nor act as a wildcard.
 */
export function encodeToken(value: string): string {
  if (value === '') return EMPTY_TOKEN;
  if (LONE_SURROGATE.test(value)) {
    // UTF-8 has no form for it: it would share the token of U+FFFD.
    throw new SubjectTokenError(
      '[@teal/amq-nats] a string with a lone surrogate has no UTF-8 form: use well-formed text',
    );
  }
  let token = '';
  let plainFrom = -1;
  for (let i = 0; i < value.length; i++) {
    if (isPlain(value.charCodeAt(i))) {
      if (plainFrom < 0) plainFrom = i;
      continue;
    }
    if (plainFrom >= 0) {
      token += value.slice(plainFrom, i);
      plainFrom = -1;
    }
    // Escape the whole run of non-plain characters at once: surrogate pairs stay together.
    let end = i + 1;
    while (end < value.length && !isPlain(value.charCodeAt(end))) end++;
    for (const byte of utf8.encode(value.slice(i, end))) {
      token += `_${HEX[byte >> 4]}${HEX[byte & 15]}`;
    }
    i = end - 1;
  }
  if (plainFrom >= 0) token += value.slice(plainFrom);
  return token;
}

/** Reverses `encodeToken`; throws a `SubjectTokenError` on anything it cannot have made. */
export function decodeToken(token: string): string {
  if (token === EMPTY_TOKEN) return '';
  if (token === '') throw tokenError('an empty token');
  let value = '';
  let i = 0;
  while (i < token.length) {
    const code = token.charCodeAt(i);
    if (isPlain(code)) {
      let end = i + 1;
      while (end < token.length && isPlain(token.charCodeAt(end))) end++;
      value += token.slice(i, end);
      i = end;
      continue;
    }
    if (code !== 0x5f) throw tokenError(`a character that is never escaped to (${code})`);
    const bytes: number[] = [];
    while (i < token.length && token.charCodeAt(i) === 0x5f) {
      const byte = parseHexByte(token, i + 1);
      // `_2D` would be `-`: a plain character is never escaped, so each value has one token.
      if (byte < 0x80 && isPlain(byte)) throw tokenError('an escaped plain character');
      bytes.push(byte);
      i += 3;
    }
    try {
      value += strictUtf8.decode(new Uint8Array(bytes));
    } catch {
      throw tokenError('escapes that are not UTF-8');
    }
  }
  return value;
}

/** A string with no token (a lone surrogate), or a token `encodeToken` cannot have made. */
export class SubjectTokenError extends AMQError {
  static override readonly kind: string = 'SubjectTokenError';
  override name = 'SubjectTokenError';
}

function tokenError(what: string): SubjectTokenError {
  return new SubjectTokenError(`[@teal/amq-nats] not a subject token made by the adapter: ${what}`);
}

/**
 * The subjects of one exchange prefix:
 * `<root>.<prefix token>.<exchange>.<key token>`. The prefix always has a
 * token of its own (`_` when empty) and the exchange names are fixed
 * identifiers, so two (prefix, exchange, key) triples never share a subject.
 */
export class Subjects {
  /** `<root>.<prefix token>`: every subject of the prefix starts with it. */
  readonly base: string;

  constructor(root: string, exchangePrefix: string) {
    this.base = `${root}.${encodeToken(exchangePrefix)}`;
  }

  /** Where messages of this exchange and key are published. */
  of(exchange: AMQExchangeName, key: string): string {
    return `${this.base}.${exchange}.${encodeToken(key)}`;
  }

  /** What a subject of this exchange starts with, the key token following. */
  exchangeStem(exchange: AMQExchangeName): string {
    return `${this.base}.${exchange}.`;
  }

  /** Every subject of the prefix, as a stream captures it. */
  get wildcard(): string {
    return `${this.base}.>`;
  }

  /** Every subject of one exchange, as a consumer filters it. */
  exchangeWildcard(exchange: AMQExchangeName): string {
    return `${this.base}.${exchange}.>`;
  }

  /** The routing key of a subject of `exchange`, or `undefined` when it is not one. */
  keyOf(exchange: AMQExchangeName, subject: string): string | undefined {
    const stem = this.exchangeStem(exchange);
    if (!subject.startsWith(stem)) return undefined;
    const token = subject.slice(stem.length);
    if (token.includes('.')) return undefined;
    try {
      return decodeToken(token);
    } catch {
      return undefined;
    }
  }
}

/** Whether a subject root (`teal`, `apps.teal`) is usable: literal tokens only. */
export function isValidSubjectRoot(root: string): boolean {
  return root.split('.').every((token) => /^[A-Za-z0-9_-]+$/.test(token));
}

function isPlain(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x2d
  );
}

function parseHexByte(token: string, at: number): number {
  const high = HEX.indexOf(token[at] ?? '');
  const low = HEX.indexOf(token[at + 1] ?? '');
  if (high < 0 || low < 0 || at + 1 >= token.length) {
    throw tokenError('an escape that is not `_` and two upper-case hex digits');
  }
  return high * 16 + low;
}
