import { createHash, timingSafeEqual } from 'node:crypto';

const USER = 'anonymous';
const BASIC = /^basic +([A-Za-z0-9+/=_-]+)$/i;

/**
 * Checks the dispatcher's credentials: HTTP Basic `anonymous:<password>`, or
 * the same `user:password` in base64 as `?credentials=` for browsers, which
 * cannot set headers on a WebSocket.
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
      : BASIC.exec(header)?.[1];
  if (!encoded) return false;
  return constantTimeEqual(Buffer.from(encoded, 'base64').toString('utf8'), `${USER}:${password}`);
}

/** `base64("anonymous:<password>")`, what `?credentials=` takes. */
export function encodeCredentials(password: string): string {
  return Buffer.from(`${USER}:${password}`).toString('base64');
}

function constantTimeEqual(given: string, expected: string): boolean {
  // Hashing first makes the comparison length-independent.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
