import type { OpenIDCIBACallbackMessage } from '@teal/messages';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestDemo, type TestDemo } from './helpers/server';

let demo: TestDemo;

beforeEach(async () => {
  demo = await startTestDemo();
  await demo.peer.bindOpenIDCIBARequestIdentifier('req-1');
});
afterEach(async () => {
  await demo.close();
});

const TOKEN = 'Abc.def~ghi+jkl/mno_pqr=-09';

function post(body: unknown, authorization: string | null = `Bearer ${TOKEN}`) {
  return demo.app.inject({
    method: 'POST',
    url: '/openid-ciba-callback',
    headers: {
      'content-type': 'application/json',
      ...(authorization === null ? {} : { authorization }),
    },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function received(): Promise<OpenIDCIBACallbackMessage> {
  const [message] = await demo.inbox.receive(1);
  expect(message?.kind).toBe('openid_ciba_callback');
  return message as OpenIDCIBACallbackMessage;
}

describe('POST /openid-ciba-callback', () => {
  it('sends a ping with the bearer token and answers 204', async () => {
    const response = await post({ auth_req_id: 'req-1' });
    expect(response.statusCode).toBe(204);
    expect(response.body).toBe('');
    expect(await received()).toMatchObject({
      requestId: 'req-1',
      accessToken: TOKEN,
      pushToken: null,
      pushError: null,
    });
  });

  it('sends a push token that expires expires_in seconds from now', async () => {
    const before = Date.now();
    const response = await post({
      auth_req_id: 'req-1',
      access_token: 'at',
      token_type: 'Bearer',
      refresh_token: 'rt',
      expires_in: 3600,
      id_token: 'idt',
    });
    const after = Date.now();
    expect(response.statusCode).toBe(204);
    const { pushToken, pushError } = await received();
    expect(pushError).toBeNull();
    expect(pushToken).toMatchObject({
      accessToken: 'at',
      tokenType: 'Bearer',
      refreshToken: 'rt',
      idToken: 'idt',
    });
    const expiresAt = pushToken!.expiresAt.getTime();
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(expiresAt).toBeLessThanOrEqual(after + 3_600_000);
  });

  it('sends a push error', async () => {
    const response = await post({
      auth_req_id: 'req-1',
      error: 'access_denied',
      error_description: 'no',
    });
    expect(response.statusCode).toBe(204);
    const message = await received();
    expect(message.pushError).toEqual({ error: 'access_denied', errorDescription: 'no' });
    expect(message.pushToken).toBeNull();
  });

  it('takes the scheme in any case', async () => {
    expect((await post({ auth_req_id: 'req-1' }, `bEaReR ${TOKEN}`)).statusCode).toBe(204);
  });

  it.each([
    ['no Authorization header', null],
    ['a Basic scheme', 'Basic dXNlcjpwYXNz'],
    ['no token', 'Bearer '],
    ['a token with a forbidden character', 'Bearer abc!def'],
    ['a token of 1025 characters', `Bearer ${'a'.repeat(1025)}`],
  ])('answers 401 to %s', async (_case, authorization) => {
    const response = await post({ auth_req_id: 'req-1' }, authorization);
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(demo.inbox.size).toBe(0);
  });

  it('takes a token of 1024 characters', async () => {
    expect((await post({ auth_req_id: 'req-1' }, `Bearer ${'a'.repeat(1024)}`)).statusCode).toBe(
      204,
    );
  });

  it.each([
    ['an extra field', { auth_req_id: 'req-1', extra: 1 }],
    [
      'a push token with an error',
      {
        auth_req_id: 'req-1',
        access_token: 'a',
        token_type: 'b',
        refresh_token: 'c',
        expires_in: 1,
        error: 'x',
      },
    ],
    [
      'a push token without expires_in',
      { auth_req_id: 'req-1', access_token: 'a', token_type: 'b', refresh_token: 'c' },
    ],
    [
      'expires_in as a string',
      {
        auth_req_id: 'req-1',
        access_token: 'a',
        token_type: 'b',
        refresh_token: 'c',
        expires_in: '60',
      },
    ],
    ['no auth_req_id', { error: 'access_denied' }],
    ['an empty auth_req_id', { auth_req_id: '' }],
    ['an array', [{ auth_req_id: 'req-1' }]],
  ])('answers a plain-text 400 to %s', async (_case, body) => {
    const response = await post(body);
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.body).toContain('exactly one of the CIBA ping');
    expect(demo.inbox.size).toBe(0);
  });

  it('answers 400 to a body that is not JSON', async () => {
    const response = await post('{"auth_req_id": ');
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('answers 415 to a body that is not declared JSON', async () => {
    const response = await demo.app.inject({
      method: 'POST',
      url: '/openid-ciba-callback',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' },
      payload: '{"auth_req_id":"req-1"}',
    });
    expect(response.statusCode).toBe(415);
  });

  it('answers 503 when the broker does not take the message', async () => {
    await demo.handler.close();
    const response = await post({ auth_req_id: 'req-1' });
    expect(response.statusCode).toBe(503);
    expect(response.body).toContain('retry later');
  });
});
