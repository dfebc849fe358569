import { parseDatetime } from './datetime';
import { PowensSignatureError } from './errors';
import type { PowensHMACSignature, PowensWebhookMessage } from './types';

/** Request headers as Fetch, Node's `IncomingHttpHeaders` or a plain record give them. */
export type HeadersLike =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const encoder = new TextEncoder();

/**
 * Reads the `BI-Signature` and `BI-Signature-Date` headers of a Powens webhook
 * request. Returns `null` when the request is not signed. Throws
 * `PowensSignatureError` (answer 400) when the signature is not base64, has no
 * date, or the date is not ISO 8601 with a timezone.
 */
export function powensHMACSignatureFromRequest(request: {
  method: string;
  path: string;
  headers: HeadersLike;
}): PowensHMACSignature | null {
  const signature = header(request.headers, 'bi-signature');
  if (signature === null) return null;
  if (signature === '' || !BASE64.test(signature)) {
    throw new PowensSignatureError('BI-Signature', 'is not base64');
  }
  const rawDate = header(request.headers, 'bi-signature-date');
  if (rawDate === null || rawDate === '') {
    throw new PowensSignatureError('BI-Signature-Date', 'is missing: a signed webhook needs it');
  }
  const signatureDate = parseDatetime(rawDate, true);
  if (signatureDate === null) {
    throw new PowensSignatureError('BI-Signature-Date', 'is not an ISO 8601 date with a timezone');
  }
  return {
    signature,
    payloadPrefix: `${request.method.toUpperCase()}.${request.path}.${rawDate}.`,
    signatureDate,
  };
}

/** Computes a Powens signature: base64(HMAC-SHA256(secret, payloadPrefix + payload)). */
export async function computePowensSignature(
  secret: string,
  payloadPrefix: string,
  payload: string,
): Promise<string> {
  const key = await hmacKey(secret, 'sign');
  const mac = await crypto.subtle.sign('HMAC', key, encoder.encode(payloadPrefix + payload));
  return toBase64(new Uint8Array(mac));
}

/** Why a webhook failed verification. */
export type PowensVerificationFailure =
  | 'no_signature'
  | 'no_signature_date'
  | 'mismatch'
  | 'too_old'
  | 'in_the_future';

export type PowensVerification =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: PowensVerificationFailure; readonly detail: string };

/** How old a signature may be by default: five minutes, as Standard Webhooks and Stripe allow. */
export const DEFAULT_POWENS_MAX_AGE_MS = 5 * 60_000;
/** How far ahead of its reference a signature may be dated by default. */
export const DEFAULT_POWENS_MAX_FUTURE_SKEW_MS = 60_000;

export interface PowensVerifyOptions {
  /**
   * Replay protection: refuse a signature dated more than this many
   * milliseconds before its reference. Default five minutes; `null` turns the
   * date checks off (a captured request replayed later then verifies).
   */
  maxAgeMs?: number | null;
  /** Tolerated skew for signature dates after the reference, in milliseconds. Default 60 s. */
  maxFutureSkewMs?: number;
  /**
   * What the signature date is measured against. `'received'` (the default):
   * the message's `timestamp`, the instant the listener received the webhook —
   * a message that waited in a queue still verifies, a request replayed to the
   * listener later does not. `'now'`: the verifier's clock (`now()`).
   */
  reference?: 'received' | 'now';
  /** The clock of `reference: 'now'`; defaults to `() => new Date()`. */
  now?: () => Date;
}

/**
 * Verifies a Powens webhook against the webhook secret, in constant time.
 * By default the signature must also be dated within five minutes before the
 * instant the listener received the webhook (`timestamp`), and at most a
 * minute after it. The result says why verification failed.
 */
export async function verifyPowensWebhook(
  message: Pick<PowensWebhookMessage, 'hmacSignature' | 'payload'> & {
    readonly timestamp?: Date;
  },
  secret: string,
  options: PowensVerifyOptions = {},
): Promise<PowensVerification> {
  const signature = message.hmacSignature;
  if (signature === null) {
    return fail('no_signature', 'the webhook carries no HMAC signature');
  }
  const maxAgeMs = options.maxAgeMs === undefined ? DEFAULT_POWENS_MAX_AGE_MS : options.maxAgeMs;
  if (maxAgeMs !== null) {
    const date = signature.signatureDate;
    if (date === null) {
      return fail('no_signature_date', 'a maximum age is set but the signature has no date');
    }
    const reference = referenceOf(message, options);
    const age = reference - date.getTime();
    const against = options.reference === 'now' ? 'now' : 'the webhook was received';
    if (age > maxAgeMs) {
      return fail(
        'too_old',
        `the signature was ${age} ms old when ${against}; at most ${maxAgeMs} ms allowed`,
      );
    }
    const skew = options.maxFutureSkewMs ?? DEFAULT_POWENS_MAX_FUTURE_SKEW_MS;
    if (-age > skew) {
      return fail(
        'in_the_future',
        `the signature is dated ${-age} ms after ${against === 'now' ? 'now' : 'the webhook was received'}; at most ${skew} ms allowed`,
      );
    }
  }
  const expected = fromBase64(signature.signature);
  if (expected === null) return fail('mismatch', 'the signature is not base64');
  const key = await hmacKey(secret, 'verify');
  const data = encoder.encode(signature.payloadPrefix + message.payload);
  // subtle.verify compares in constant time.
  const matches = await crypto.subtle.verify('HMAC', key, expected, data);
  return matches
    ? { ok: true }
    : fail('mismatch', 'the signature does not match the payload and secret');
}

/** The instant, in ms, the signature date is measured against. */
function referenceOf(message: { readonly timestamp?: Date }, options: PowensVerifyOptions): number {
  if (options.reference === 'now') return (options.now ?? (() => new Date()))().getTime();
  const received = message.timestamp;
  if (!(received instanceof Date) || Number.isNaN(received.getTime())) {
    throw new TypeError(
      "[@teal/messages] verifyPowensWebhook(): message.timestamp is needed to check the signature's age against when the webhook was received: pass the decoded message, or { reference: 'now' }, or { maxAgeMs: null }",
    );
  }
  return received.getTime();
}

function fail(reason: PowensVerificationFailure, detail: string): PowensVerification {
  return { ok: false, reason, detail };
}

function hmacKey(secret: string, usage: 'sign' | 'verify') {
  return crypto.subtle.importKey(
    'raw',
    encoder.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    [usage],
  );
}

function header(headers: HeadersLike, name: string): string | null {
  if (typeof headers.get === 'function')
    return (headers as { get(name: string): string | null }).get(name);
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() !== name) continue;
    if (typeof value === 'string') return value;
    if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  }
  return null;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

// Typed over ArrayBuffer so that DOM typings accept it as a BufferSource.
function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  if (!BASE64.test(text)) return null;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
