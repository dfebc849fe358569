import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  computePowensSignature,
  DEFAULT_POWENS_MAX_AGE_MS,
  decodeMessage,
  type PowensHMACSignature,
  PowensSignatureError,
  powensHMACSignatureFromRequest,
  powensWebhookMessage,
  verifyPowensWebhook,
} from '../src/index';

interface PowensVector {
  name: string;
  method: string;
  path: string;
  signature_date: string;
  payload: string;
  secret: string;
  payload_prefix: string;
  signature: string;
}

const { vectors } = JSON.parse(
  readFileSync(
    fileURLToPath(new URL('../../../../shared/vectors/powens-hmac.json', import.meta.url)),
    'utf8',
  ),
) as { vectors: PowensVector[] };

const utf8Encoder = new TextEncoder();
// Lenient on purpose: a flipped byte may break a multi-byte character, and the
// replacement character still differs from the original text.
const utf8Decoder = new TextDecoder();

/** Every variant of `text` with one UTF-8 byte flipped, so no variant equals `text`. */
function withEachByteFlipped(text: string): string[] {
  const bytes = utf8Encoder.encode(text);
  return Array.from(bytes, (_byte, position) => {
    const flipped = bytes.slice();
    flipped[position] = flipped[position]! ^ 0x01;
    return utf8Decoder.decode(flipped);
  });
}

function signedRequest(vector: PowensVector) {
  return {
    method: vector.method,
    path: vector.path,
    headers: { 'Bi-Signature': vector.signature, 'BI-SIGNATURE-DATE': vector.signature_date },
  };
}

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

describe('Powens HMAC vectors', () => {
  it('holds vectors', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(2);
  });

  for (const vector of vectors) {
    describe(vector.name, () => {
      it('reads the signature from a plain header record with mixed-case names', () => {
        const signature = powensHMACSignatureFromRequest(signedRequest(vector));
        expect(signature).toEqual({
          signature: vector.signature,
          payloadPrefix: vector.payload_prefix,
          signatureDate: new Date(vector.signature_date),
        });
      });

      it('reads the signature from Fetch Headers', () => {
        const headers = new Headers({
          'bi-signature': vector.signature,
          'Bi-Signature-Date': vector.signature_date,
        });
        const signature = powensHMACSignatureFromRequest({ ...signedRequest(vector), headers });
        expect(signature?.payloadPrefix).toBe(vector.payload_prefix);
        expect(signature?.signature).toBe(vector.signature);
      });

      it('reads the first value of a repeated header, as Node gives them', () => {
        const headers = {
          'bi-signature': [vector.signature],
          'bi-signature-date': [vector.signature_date, 'ignored'],
        };
        const signature = powensHMACSignatureFromRequest({ ...signedRequest(vector), headers });
        expect(signature?.payloadPrefix).toBe(vector.payload_prefix);
      });

      it('uppercases the method in the prefix', () => {
        const request = { ...signedRequest(vector), method: vector.method.toLowerCase() };
        expect(powensHMACSignatureFromRequest(request)?.payloadPrefix).toBe(vector.payload_prefix);
      });

      it('computes the vector signature', async () => {
        expect(
          await computePowensSignature(vector.secret, vector.payload_prefix, vector.payload),
        ).toBe(vector.signature);
      });

      it('verifies a webhook built from the request', async () => {
        const message = powensWebhookMessage({
          domain: 'example.biapi.pro',
          event: 'USER_CREATED',
          payload: vector.payload,
          hmacSignature: powensHMACSignatureFromRequest(signedRequest(vector)),
        });
        // The vectors were signed long ago: the window is off to check the MAC alone.
        expect(await verifyPowensWebhook(message, vector.secret, { maxAgeMs: null })).toEqual({
          ok: true,
        });
      });

      const signature: PowensHMACSignature = {
        signature: vector.signature,
        payloadPrefix: vector.payload_prefix,
        signatureDate: new Date(vector.signature_date),
      };

      it('fails with mismatch when any byte of the payload is flipped', async () => {
        const variants = withEachByteFlipped(vector.payload);
        expect(variants.length).toBe(utf8Encoder.encode(vector.payload).length);
        for (const payload of variants) {
          const result = await verifyPowensWebhook(
            { hmacSignature: signature, payload },
            vector.secret,
            { maxAgeMs: null },
          );
          expect(result).toMatchObject({ ok: false, reason: 'mismatch' });
        }
      });

      it('fails with mismatch when any byte of the prefix is flipped', async () => {
        for (const payloadPrefix of withEachByteFlipped(vector.payload_prefix)) {
          const result = await verifyPowensWebhook(
            { hmacSignature: { ...signature, payloadPrefix }, payload: vector.payload },
            vector.secret,
            { maxAgeMs: null },
          );
          expect(result).toMatchObject({ ok: false, reason: 'mismatch' });
        }
      });

      it('fails with mismatch when any byte of the secret is flipped', async () => {
        for (const secret of withEachByteFlipped(vector.secret)) {
          const result = await verifyPowensWebhook(
            { hmacSignature: signature, payload: vector.payload },
            secret,
            { maxAgeMs: null },
          );
          expect(result).toMatchObject({ ok: false, reason: 'mismatch' });
        }
      });

      it('fails with mismatch when any byte of the decoded signature is flipped', async () => {
        const mac = Uint8Array.from(atob(vector.signature), (char) => char.charCodeAt(0));
        for (let position = 0; position < mac.length; position++) {
          const flipped = mac.slice();
          flipped[position] = flipped[position]! ^ 0x01;
          const forged = btoa(String.fromCharCode(...flipped));
          const result = await verifyPowensWebhook(
            { hmacSignature: { ...signature, signature: forged }, payload: vector.payload },
            vector.secret,
            { maxAgeMs: null },
          );
          expect(result).toMatchObject({ ok: false, reason: 'mismatch' });
        }
      });
    });
  }

  it('verifies the signed webhook of the message vectors', async () => {
    const messages = JSON.parse(
      readFileSync(
        fileURLToPath(new URL('../../../../shared/vectors/messages.json', import.meta.url)),
        'utf8',
      ),
    ) as { valid: { name: string; wire: string }[] };
    const signed = messages.valid.find((vector) => vector.name === 'powens-hmac')!;
    const message = decodeMessage('powens_webhook', signed.wire);
    const windowOff = { maxAgeMs: null };
    expect(await verifyPowensWebhook(message, 'test-secret', windowOff)).toEqual({ ok: true });
    expect(await verifyPowensWebhook(message, 'test-secreT', windowOff)).toMatchObject({
      reason: 'mismatch',
    });
  });
});

describe('powensHMACSignatureFromRequest', () => {
  const request = { method: 'POST', path: '/powens-webhook/d/E' };

  it('returns null for an unsigned request', () => {
    expect(powensHMACSignatureFromRequest({ ...request, headers: {} })).toBeNull();
    expect(powensHMACSignatureFromRequest({ ...request, headers: new Headers() })).toBeNull();
    expect(
      powensHMACSignatureFromRequest({ ...request, headers: { 'bi-signature-date': 'x' } }),
    ).toBeNull();
  });

  const refused: [string, Record<string, string>, string][] = [
    ['a signature without a date', { 'BI-Signature': 'AAAA' }, 'BI-Signature-Date'],
    [
      'a signature that is not base64',
      { 'BI-Signature': 'not base64!', 'BI-Signature-Date': '2023-06-01T12:34:56Z' },
      'BI-Signature',
    ],
    [
      'an empty signature',
      { 'BI-Signature': '', 'BI-Signature-Date': '2023-06-01T12:34:56Z' },
      'BI-Signature',
    ],
    [
      'a date without a timezone',
      { 'BI-Signature': 'AAAA', 'BI-Signature-Date': '2023-06-01T12:34:56' },
      'BI-Signature-Date',
    ],
    [
      'an unparseable date',
      { 'BI-Signature': 'AAAA', 'BI-Signature-Date': 'yesterday' },
      'BI-Signature-Date',
    ],
    [
      'an impossible date',
      { 'BI-Signature': 'AAAA', 'BI-Signature-Date': '2023-02-29T12:00:00Z' },
      'BI-Signature-Date',
    ],
  ];
  for (const [what, headers, faultyHeader] of refused) {
    it(`refuses ${what}, naming ${faultyHeader}`, () => {
      const error = catchError(() => powensHMACSignatureFromRequest({ ...request, headers }));
      expect(error).toBeInstanceOf(PowensSignatureError);
      expect((error as PowensSignatureError).header).toBe(faultyHeader);
      expect((error as PowensSignatureError).message).toContain(faultyHeader);
    });
  }

  it('keeps the raw date text in the prefix and parses its offset', () => {
    const signature = powensHMACSignatureFromRequest({
      ...request,
      headers: { 'bi-signature': 'AAAA', 'bi-signature-date': '2023-06-01T14:34:56+02:00' },
    });
    expect(signature?.payloadPrefix).toBe('POST./powens-webhook/d/E.2023-06-01T14:34:56+02:00.');
    expect(signature?.signatureDate?.toISOString()).toBe('2023-06-01T12:34:56.000Z');
  });
});

describe("verifyPowensWebhook freshness against the verifier's clock", () => {
  const vector = vectors[0]!;
  const signedAt = new Date(vector.signature_date).getTime();
  const webhook = {
    payload: vector.payload,
    hmacSignature: {
      signature: vector.signature,
      payloadPrefix: vector.payload_prefix,
      signatureDate: new Date(signedAt),
    },
  };
  const at = (offsetMs: number) => () => new Date(signedAt + offsetMs);

  it('accepts a signature younger than maxAgeMs', async () => {
    const result = await verifyPowensWebhook(webhook, vector.secret, {
      maxAgeMs: 60_000,
      reference: 'now',
      now: at(30_000),
    });
    expect(result).toEqual({ ok: true });
  });

  it('accepts a signature exactly maxAgeMs old', async () => {
    const result = await verifyPowensWebhook(webhook, vector.secret, {
      maxAgeMs: 60_000,
      reference: 'now',
      now: at(60_000),
    });
    expect(result).toEqual({ ok: true });
  });

  it('refuses an older signature as too_old, before checking the MAC', async () => {
    for (const secret of [vector.secret, 'wrong secret']) {
      const result = await verifyPowensWebhook(webhook, secret, {
        maxAgeMs: 60_000,
        reference: 'now',
        now: at(60_001),
      });
      expect(result).toMatchObject({ ok: false, reason: 'too_old' });
    }
  });

  it('refuses a signature dated beyond the default one-minute skew as in_the_future', async () => {
    const result = await verifyPowensWebhook(webhook, vector.secret, {
      maxAgeMs: 60_000,
      reference: 'now',
      now: at(-61_000),
    });
    expect(result).toMatchObject({ ok: false, reason: 'in_the_future' });
  });

  it('accepts a future signature within maxFutureSkewMs', async () => {
    const lenient = {
      maxAgeMs: 60_000,
      maxFutureSkewMs: 300_000,
      reference: 'now' as const,
      now: at(-240_000),
    };
    expect(await verifyPowensWebhook(webhook, vector.secret, lenient)).toEqual({ ok: true });
    const strict = {
      maxAgeMs: 60_000,
      maxFutureSkewMs: 0,
      reference: 'now' as const,
      now: at(-1),
    };
    expect(await verifyPowensWebhook(webhook, vector.secret, strict)).toMatchObject({
      reason: 'in_the_future',
    });
  });

  it('still reports a mismatch for a fresh signature over other data', async () => {
    const result = await verifyPowensWebhook(
      { ...webhook, payload: `${vector.payload} ` },
      vector.secret,
      {
        maxAgeMs: 60_000,
        reference: 'now',
        now: at(0),
      },
    );
    expect(result).toMatchObject({ ok: false, reason: 'mismatch' });
  });

  it('refuses an undated signature when a maximum age is set', async () => {
    const undated = {
      ...webhook,
      hmacSignature: { ...webhook.hmacSignature, signatureDate: null },
    };
    expect(
      await verifyPowensWebhook(undated, vector.secret, {
        maxAgeMs: 60_000,
        reference: 'now',
        now: at(0),
      }),
    ).toMatchObject({ ok: false, reason: 'no_signature_date' });
    // An undated signature fails the default window too; with the opt-out, the date is not needed.
    expect(await verifyPowensWebhook(undated, vector.secret)).toMatchObject({
      reason: 'no_signature_date',
    });
    expect(await verifyPowensWebhook(undated, vector.secret, { maxAgeMs: null })).toEqual({
      ok: true,
    });
  });

  it('refuses a webhook without a signature', async () => {
    const result = await verifyPowensWebhook(
      { payload: vector.payload, hmacSignature: null },
      vector.secret,
    );
    expect(result).toMatchObject({ ok: false, reason: 'no_signature' });
    expect((result as { detail: string }).detail.length).toBeGreaterThan(0);
  });

  it('reports a signature that is not base64 as a mismatch', async () => {
    const garbled = { ...webhook, hmacSignature: { ...webhook.hmacSignature, signature: '***' } };
    expect(await verifyPowensWebhook(garbled, vector.secret, { maxAgeMs: null })).toMatchObject({
      ok: false,
      reason: 'mismatch',
    });
  });
});

describe('verifyPowensWebhook replay protection by default, against when the webhook was received', () => {
  const secret = 'replay-secret';
  const minute = 60_000;
  const received = new Date('2026-06-01T12:00:00Z');

  /** A webhook the listener received at `received`, signed `signedBeforeMs` before. */
  async function webhook(signedBeforeMs: number) {
    const date = new Date(received.getTime() - signedBeforeMs);
    const prefix = `POST./powens-webhook/d/E.${date.toISOString()}.`;
    const payload = '{"user":{"id":1}}';
    return powensWebhookMessage({
      timestamp: received,
      domain: 'd.biapi.pro',
      event: 'E',
      payload,
      hmacSignature: {
        signature: await computePowensSignature(secret, prefix, payload),
        payloadPrefix: prefix,
        signatureDate: date,
      },
    });
  }
  /** The verifier's clock, however late it verifies: the default never reads it. */
  const late = (ms: number) => () => new Date(received.getTime() + ms);

  it('verifies a fresh signature', async () => {
    expect(await verifyPowensWebhook(await webhook(1_000), secret)).toEqual({ ok: true });
  });

  it('refuses a signature dated six minutes before the webhook was received, even verified at once', async () => {
    const result = await verifyPowensWebhook(await webhook(6 * minute), secret, { now: late(0) });
    expect(result).toMatchObject({ ok: false, reason: 'too_old' });
  });

  it('verifies a signature dated a minute before a webhook verified an hour later', async () => {
    const result = await verifyPowensWebhook(await webhook(minute), secret, {
      now: late(60 * minute),
    });
    expect(result).toEqual({ ok: true });
    // Measured against the verifier's clock, the same message would be refused.
    expect(
      await verifyPowensWebhook(await webhook(minute), secret, {
        reference: 'now',
        now: late(60 * minute),
      }),
    ).toMatchObject({ reason: 'too_old' });
  });

  it('refuses a signature dated beyond the skew after the webhook was received', async () => {
    expect(await verifyPowensWebhook(await webhook(-2 * minute), secret)).toMatchObject({
      ok: false,
      reason: 'in_the_future',
    });
    expect(await verifyPowensWebhook(await webhook(-30_000), secret)).toEqual({ ok: true });
  });

  it('takes the window as an option, and accepts every date with the opt-out', async () => {
    const old = await webhook(6 * minute);
    expect(await verifyPowensWebhook(old, secret, { maxAgeMs: 10 * minute })).toEqual({ ok: true });
    for (const signedBefore of [6 * minute, minute, -2 * minute, 24 * 60 * minute]) {
      expect(
        await verifyPowensWebhook(await webhook(signedBefore), secret, { maxAgeMs: null }),
      ).toEqual({ ok: true });
    }
    expect(DEFAULT_POWENS_MAX_AGE_MS).toBe(5 * minute);
  });

  it('says what to pass when a message has no timestamp to measure against', async () => {
    const { timestamp: _, ...untimed } = await webhook(0);
    await expect(verifyPowensWebhook(untimed, secret)).rejects.toThrow(/message\.timestamp/);
  });
});
