import { createHash, timingSafeEqual } from 'node:crypto';

const USER = 'anonymous';
const BASIC = /^basic +(\S+)$/i;
// Standard alphabet, padded to whole quanta, nothing after the padding. Linear time.
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// Longer than any credentials this service holds: refused before decoding.
const MAX_ENCODED_LENGTH = 4096;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Checks the dispatcher's credentials: HTTP Basic `anonymous:<password>`, or,
 * when there is no `Authorization` header, the same base64 as `?credentials=`
 * for browsers, which cannot set headers on a WebSocket. A header that is
 * present but malformed refuses, whatever the query says.
 */
export function hasDispatcherCredentials(
  request: {
    readonly headers: { readonly authorization?: string | undefined };
    readonly url: string;
  },
  password: string,
): boolean {
  const header = request.headers.authorization;
  const encoded =
    header === undefined
      ? new URLSearchParams(request.url.split('?')[1] ?? '').get('credentials')
      : (BASIC.exec(header)?.[1] ?? null);
  if (encoded === null) return false;
  const decoded = decodeStrictBase64(encoded);
  // Still compared when malformed, so that a malformed value takes as long as a wrong one.
  return constantTimeEqual(decoded ?? '', `${USER}:${password}`) && decoded !== null;
}

/** `base64("anonymous:<password>")`, what `?credentials=` takes. */
export function encodeCredentials(password: string): string {
  return Buffer.from(`${USER}:${password}`).toString('base64');
}

/**
 * Decodes standard, correctly padded base64 of UTF-8 text; `null` for anything
 * else (other alphabets, missing or misplaced padding, text after it). Node's
 * own decoder skips what it does not understand, so `Basic <valid>==junk` would pass it.
 */
export function decodeStrictBase64(text: string): string | null {
  if (text.length > MAX_ENCODED_LENGTH || !STRICT_BASE64.test(text)) return null;
  try {
    return utf8.decode(Buffer.from(text, 'base64'));
  } catch {
    return null;
  }
}

function constantTimeEqual(given: string, expected: string): boolean {
  // Hashing first makes the comparison length-independent.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
