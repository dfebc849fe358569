import { callbackMessage, openIDCIBACallbackMessage, powensWebhookMessage } from '@teal/messages';
import { describe, expect, it } from 'vitest';
import { maskMessage, maskUrl } from '../src/index';

describe('masking for debug output', () => {
  it('masks callback URL query and fragment values and passwords', () => {
    expect(maskUrl('https://x.test/cb?state=abc&code=SECRET#access_token=SECRET2')).toBe(
      'https://x.test/cb?state=***&code=***#access_token=***',
    );
    expect(maskUrl('amqp://guest:SECRET@host:5672')).toBe('amqp://guest:***@host:5672');
    const masked = JSON.stringify(
      maskMessage(callbackMessage({ url: 'https://x.test/?code=SECRET', state: 's' })),
    );
    expect(masked).not.toContain('SECRET');
  });

  it('masks the same way URLs that do not parse, passwords with / ? # @ included', () => {
    expect(maskUrl('amqp://guest:se/cr@et@[bad')).toBe('amqp://***@[bad');
    expect(maskUrl('/callback?state=S&code=SECRET')).toBe('/callback?state=***&code=***');
    expect(maskUrl('/x?a?b=SECRET&c#d=SECRET2')).toBe('/x?a?b=***&c#d=***');
    expect(maskUrl('/x&a=SECRET')).toBe('/x&a=***');
  });

  it('runs in linear time on hostile input, and cuts what it returns', () => {
    // A run of `?` made the former regular expression quadratic: 16,000 took about 0.5 s.
    for (const hostile of [
      `/anything${'?'.repeat(200_000)}`,
      `/a?${'='.repeat(200_000)}`,
      `/a?${'&'.repeat(200_000)}`,
      `amqp://${':'.repeat(200_000)}`,
      `amqp://u:${'x'.repeat(200_000)}`,
      `amqp://${'@'.repeat(200_000)}`,
      `${'a://'.repeat(50_000)}`,
    ]) {
      const started = performance.now();
      const masked = maskUrl(hostile);
      // Quadratic would take minutes here; the bound only catches that, not speed.
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(masked.length).toBeLessThan(2_200);
    }
  });

  it('masks every token of a CIBA message and a Powens payload', () => {
    const ciba = openIDCIBACallbackMessage({
      requestId: 'r',
      accessToken: 'SECRET-A',
      pushToken: {
        accessToken: 'SECRET-B',
        tokenType: 'Bearer',
        refreshToken: 'SECRET-C',
        expiresAt: new Date(),
        idToken: 'SECRET-D',
      },
    });
    const powens = powensWebhookMessage({
      domain: 'd.biapi.pro',
      event: 'E',
      userToken: 'SECRET-E',
      payload: '{"SECRET-F":1}',
      hmacSignature: { signature: 'SECRET-G', payloadPrefix: 'POST./x.d.', signatureDate: null },
    });
    const text = JSON.stringify([maskMessage(ciba), maskMessage(powens)]);
    expect(text).not.toContain('SECRET');
    expect(text).toContain('"requestId":"r"');
    expect(text).toContain('d.biapi.pro');
  });
});
