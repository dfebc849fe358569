import { callbackMessage, openIDCIBACallbackMessage, powensWebhookMessage } from '@teal/messages';
import { describe, expect, it } from 'vitest';
import {
  acknowledgementFrame,
  errorFrame,
  messageFrame,
  parseClientMessage,
} from '../src/dispatcher/protocol';

describe('parseClientMessage', () => {
  it.each([
    [
      { register_to: { type: 'callback', state: 's' } },
      'register_to',
      { kind: 'callback', key: 's' },
    ],
    [
      { register_to: { type: 'openid_ciba_callback', request_id: 'r' } },
      'register_to',
      { kind: 'openid_ciba_callback', key: 'r' },
    ],
    [
      { register_to: { type: 'powens_domain', powens_domain: 'ex' } },
      'register_to',
      { kind: 'powens_webhook', key: 'ex.biapi.pro' },
    ],
    [
      { unregister_from: { type: 'callback', state: 's' } },
      'unregister_from',
      { kind: 'callback', key: 's' },
    ],
  ])('reads %o', (frame, action, registration) => {
    expect(parseClientMessage(JSON.stringify(frame))).toEqual({ action, registration });
  });

  it.each([
    ['{', 'not JSON'],
    ['"register_to"', 'not a JSON object'],
    ['[]', 'not a JSON object'],
    ['{}', 'unknown message'],
    ['{"subscribe": {}}', 'unknown message'],
    ['{"register_to": {"type": "callback", "state": "s"}, "extra": 1}', 'unknown message'],
    ['{"register_to": "s"}', 'register_to must be an object'],
    ['{"register_to": {"type": "oauth", "state": "s"}}', 'type must be callback'],
    ['{"register_to": {"type": "callback"}}', 'state must be a string'],
    ['{"register_to": {"type": "callback", "state": ""}}', 'state must be a string'],
    ['{"register_to": {"type": "callback", "state": 5}}', 'state must be a string'],
    [
      `{"register_to": {"type": "callback", "state": "${'s'.repeat(1025)}"}}`,
      'state must be a string of 1 to 1024',
    ],
    [
      '{"register_to": {"type": "openid_ciba_callback", "state": "s"}}',
      'request_id must be a string',
    ],
    [
      '{"register_to": {"type": "powens_domain", "powens_domain": "ex.biapi.pro"}}',
      'without .biapi.pro',
    ],
  ])('refuses %s with an error naming the problem', (frame, error) => {
    const parsed = parseClientMessage(frame);
    expect('error' in parsed && parsed.error).toContain(error);
  });
});

describe('server frames', () => {
  const timestamp = new Date('2026-01-02T03:04:05.678Z');

  it('writes a callback as the Python dispatcher did', () => {
    const frame = JSON.parse(
      messageFrame(callbackMessage({ url: 'https://l/callback?state=s', state: 's', timestamp })),
    );
    expect(frame).toEqual({
      type: 'callback',
      timestamp: '2026-01-02T03:04:05.678Z',
      url: 'https://l/callback?state=s',
      state: 's',
    });
  });

  it('writes a CIBA notification in snake_case', () => {
    const message = openIDCIBACallbackMessage({
      requestId: 'r',
      accessToken: 't',
      pushToken: {
        accessToken: 'a',
        tokenType: 'Bearer',
        refreshToken: 'f',
        expiresAt: timestamp,
        idToken: null,
      },
      timestamp,
    });
    expect(JSON.parse(messageFrame(message))).toEqual({
      type: 'openid_ciba_callback',
      timestamp: '2026-01-02T03:04:05.678Z',
      request_id: 'r',
      access_token: 't',
      push_token: {
        access_token: 'a',
        token_type: 'Bearer',
        refresh_token: 'f',
        expires_at: '2026-01-02T03:04:05.678Z',
        id_token: null,
      },
      push_error: null,
    });
  });

  it('writes a Powens webhook in snake_case', () => {
    const message = powensWebhookMessage({
      domain: 'ex.biapi.pro',
      event: 'E',
      payload: '{}',
      hmacSignature: { signature: 'c2ln', payloadPrefix: 'POST./p.d.', signatureDate: timestamp },
      timestamp,
    });
    expect(JSON.parse(messageFrame(message))).toEqual({
      type: 'powens_webhook',
      timestamp: '2026-01-02T03:04:05.678Z',
      domain: 'ex.biapi.pro',
      event: 'E',
      hmac_signature: {
        signature: 'c2ln',
        payload_prefix: 'POST./p.d.',
        signature_date: '2026-01-02T03:04:05.678Z',
      },
      user_token: null,
      payload: '{}',
    });
  });

  it('acknowledges registrations as the client wrote them', () => {
    expect(
      JSON.parse(
        acknowledgementFrame('register_to', { kind: 'powens_webhook', key: 'ex.biapi.pro' }),
      ),
    ).toEqual({
      type: 'registered',
      register_to: { type: 'powens_domain', powens_domain: 'ex' },
    });
    expect(
      JSON.parse(
        acknowledgementFrame('unregister_from', { kind: 'openid_ciba_callback', key: 'r' }),
      ),
    ).toEqual({
      type: 'unregistered',
      unregister_from: { type: 'openid_ciba_callback', request_id: 'r' },
    });
    expect(JSON.parse(errorFrame('bad'))).toEqual({ type: 'error', error: 'bad' });
  });
});
