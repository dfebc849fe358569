import {
  computePowensSignature,
  type PowensWebhookMessage,
  verifyPowensWebhook,
} from '@teal/messages';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestDemo, type TestDemo } from './helpers/server';

let demo: TestDemo;

beforeEach(async () => {
  demo = await startTestDemo({ env: { BODY_LIMIT_BYTES: '4096' } });
  await demo.peer.bindPowensDomainWebhooks('example.biapi.pro');
});
afterEach(async () => {
  await demo.close();
});

const SECRET = 'webhook-secret';
const PATH = '/powens-webhook/example.biapi.pro/USER_CREATED';
const DATE = '2026-01-02T03:04:05.678+01:00';

async function signedHeaders(
  path: string,
  payload: string,
  date = DATE,
): Promise<Record<string, string>> {
  return {
    'content-type': 'application/json',
    'bi-signature': await computePowensSignature(SECRET, `POST.${path}.${date}.`, payload),
    'bi-signature-date': date,
  };
}

function post(url: string, headers: Record<string, string>, payload: string | Buffer = '{}') {
  return demo.app.inject({ method: 'POST', url, headers, payload });
}

async function received(): Promise<PowensWebhookMessage> {
  const [message] = await demo.inbox.receive(1);
  expect(message?.kind).toBe('powens_webhook');
  return message as PowensWebhookMessage;
}

describe('POST /powens-webhook/:domain/:event', () => {
  it('sends a signed webhook with its raw body, and the signature verifies', async () => {
    // A BOM, odd spacing, key order and unicode: reparsing would break the signature.
    const payload = '\uFEFF{ "b":1,  "a" : "état ½ 😀" }\r\n';
    const response = await post(PATH, await signedHeaders(PATH, payload), payload);
    expect(response.statusCode).toBe(204);
    const message = await received();
    expect(message).toMatchObject({
      domain: 'example.biapi.pro',
      event: 'USER_CREATED',
      payload,
      userToken: null,
    });
    expect(message.hmacSignature?.payloadPrefix).toBe(`POST.${PATH}.${DATE}.`);
    expect(message.hmacSignature?.signatureDate?.toISOString()).toBe('2026-01-02T02:04:05.678Z');
    // Signed with a fixed date long before it was received: the replay window is off here.
    expect(await verifyPowensWebhook(message, SECRET, { maxAgeMs: null })).toEqual({ ok: true });
    expect(await verifyPowensWebhook(message, SECRET)).toMatchObject({ reason: 'too_old' });
    expect((await verifyPowensWebhook(message, 'another-secret', { maxAgeMs: null })).ok).toBe(
      false,
    );
  });

  it('signs the path without the query string', async () => {
    const payload = '{"x":1}';
    const response = await post(`${PATH}?retry=2`, await signedHeaders(PATH, payload), payload);
    expect(response.statusCode).toBe(204);
    expect(await verifyPowensWebhook(await received(), SECRET, { maxAgeMs: null })).toEqual({
      ok: true,
    });
  });

  it('sends a webhook authenticated by a user token', async () => {
    const response = await post(
      PATH,
      { authorization: 'Bearer user-token-1', 'content-type': 'application/json' },
      '[]',
    );
    expect(response.statusCode).toBe(204);
    expect(await received()).toMatchObject({
      userToken: 'user-token-1',
      hmacSignature: null,
      payload: '[]',
    });
  });

  it('takes any content type, or none', async () => {
    const response = await demo.app.inject({
      method: 'POST',
      url: PATH,
      headers: { authorization: 'Bearer t' },
      payload: 'a=1&b=2',
    });
    expect(response.statusCode).toBe(204);
    expect((await received()).payload).toBe('a=1&b=2');
  });

  it('refuses a request with neither signature nor user token', async () => {
    const response = await post(PATH, { 'content-type': 'application/json' });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.body).toContain(
      'BI-Signature header (with BI-Signature-Date) or an Authorization: Bearer <user token>',
    );
  });

  it('refuses an Authorization header that is not a bearer token', async () => {
    const response = await post(PATH, { authorization: 'Basic abc' });
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('Bearer <user token>');
  });

  it.each([
    [
      'a signature that is not base64',
      { 'bi-signature': 'not base64!', 'bi-signature-date': DATE },
      'BI-Signature header is not base64',
    ],
    [
      'a signature without a date',
      { 'bi-signature': 'c2lnbmF0dXJl' },
      'BI-Signature-Date header is missing',
    ],
    [
      'a date without a timezone',
      { 'bi-signature': 'c2lnbmF0dXJl', 'bi-signature-date': '2026-01-02T03:04:05' },
      'not an ISO 8601 date with a timezone',
    ],
  ])('refuses %s with the reason', async (_case, headers, reason) => {
    const response = await post(PATH, headers);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.body).toContain(reason);
    expect(demo.inbox.size).toBe(0);
  });

  it('refuses a domain that is not a Powens one, showing the URL to configure', async () => {
    const response = await post('/powens-webhook/example/USER_CREATED', {
      authorization: 'Bearer t',
      host: 'teal.example',
    });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.body).toContain(
      'http://teal.example/powens-webhook/example.biapi.pro/USER_CREATED',
    );
  });

  it('refuses the bare suffix as a domain', async () => {
    const response = await post('/powens-webhook/.biapi.pro/USER_CREATED', {
      authorization: 'Bearer t',
    });
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('must end in .biapi.pro');
  });

  it('refuses a body over the limit with a plain-text 413', async () => {
    const response = await post(PATH, { authorization: 'Bearer t' }, 'x'.repeat(4097));
    expect(response.statusCode).toBe(413);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.body).toContain('4096 bytes');
    expect(demo.inbox.size).toBe(0);
  });

  it('takes a body at the limit', async () => {
    const response = await post(PATH, { authorization: 'Bearer t' }, 'x'.repeat(4096));
    expect(response.statusCode).toBe(204);
    expect((await received()).payload).toHaveLength(4096);
  });

  it('refuses a body that is not UTF-8', async () => {
    const response = await post(
      PATH,
      { authorization: 'Bearer t' },
      Buffer.from([0x7b, 0xff, 0x7d]),
    );
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('UTF-8');
  });

  it('answers 503 when the broker does not take the message', async () => {
    await demo.handler.close();
    const response = await post(PATH, { authorization: 'Bearer t' });
    expect(response.statusCode).toBe(503);
    expect(response.body).toContain('retry later');
  });
});

describe('BI-Signature-Date offsets', () => {
  // Decision: the listener answers 400 for an offset no clock shows, where
  // pydantic 1.10 reads +05:99 as +06:39; decoding messages stays lenient.
  it.each(['2024-01-01T00:00:00+05:99', '2024-01-01T00:00:00+00:60', '2024-01-01T00:00:00-0075'])(
    'refuses %s with 400 naming the offset, and sends nothing',
    async (date) => {
      const response = await post(PATH, await signedHeaders(PATH, '{}', date));
      expect(response.statusCode).toBe(400);
      expect(response.body).toContain('impossible offset');
      expect(response.body).toContain(/[+-]\d{2}:?\d{2}$/.exec(date)?.[0]);
      expect(await demo.inbox.settle(0)).toEqual([]);
    },
  );

  it.each(['2024-01-01T00:00:00+05:30', '2024-01-01T00:00:00-23:59', '2024-01-01T00:00:00Z'])(
    'takes %s',
    async (date) => {
      const response = await post(PATH, await signedHeaders(PATH, '{}', date));
      expect(response.statusCode).toBe(204);
      expect((await received()).hmacSignature?.payloadPrefix).toBe(`POST.${PATH}.${date}.`);
    },
  );
});
