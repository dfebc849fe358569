import { Writable } from 'node:stream';
import { computePowensSignature } from '@teal/messages';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { amqLoggerOf, createLogger } from '../src/logging';
import { listen, startTestDemo, type TestDemo } from './helpers/server';
import { basic, TestSocket } from './helpers/websocket';

let demo: TestDemo;

beforeEach(async () => {
  demo = await startTestDemo({ env: { DISPATCHER_PASSWORD: 'dispatcher-secret-pw' } });
});
afterEach(async () => {
  await demo.close();
});

const SECRETS = [
  'state-secret-1',
  'code-secret-2',
  'ciba-token-secret-3',
  'user-token-secret-4',
  'dispatcher-secret-pw',
  'payload-secret-5',
];

describe('logs', () => {
  it('never show states, codes, tokens, credentials, signatures or payloads', async () => {
    const { app } = demo;
    await app.inject({ url: '/callback?state=state-secret-1&code=code-secret-2' });
    await app.inject({
      url: `/raw-callback?full_url=${encodeURIComponent('http://localhost:80/callback#state=state-secret-1&code=code-secret-2')}`,
    });
    await app.inject({
      method: 'POST',
      url: '/openid-ciba-callback',
      headers: { authorization: 'Bearer ciba-token-secret-3', 'content-type': 'application/json' },
      payload: '{"auth_req_id":"r","extra":"payload-secret-5"}',
    });
    const signature = await computePowensSignature('k', 'p', 'payload-secret-5');
    await app.inject({
      method: 'POST',
      url: '/powens-webhook/ex.biapi.pro/E',
      headers: {
        authorization: 'Bearer user-token-secret-4',
        'bi-signature': signature,
        'bi-signature-date': '2026-01-01T00:00:00Z',
      },
      payload: 'payload-secret-5',
    });
    const baseUrl = await listen(app);
    const credentials = Buffer.from('anonymous:dispatcher-secret-pw').toString('base64');
    const socket = await TestSocket.open(baseUrl, {
      path: `/ws?credentials=${encodeURIComponent(credentials)}`,
    });
    await socket.close();
    await TestSocket.open(baseUrl, { headers: basic('anonymous', 'dispatcher-secret-pw') }).then(
      (s) => s.close(),
    );
    await demo.handler.close();
    await app.inject({ url: '/callback?state=state-secret-1&code=code-secret-2' });

    const logs = demo.logs.join('');
    expect(logs).toContain('"url":"/callback?state=***&code=***"');
    expect(logs).toContain('/ws?credentials=***');
    expect(logs).toContain('the broker did not accept the message');
    for (const secret of [...SECRETS, signature, credentials]) expect(logs).not.toContain(secret);
  });

  it('mask a hostile request target in linear time, before routing or auth', async () => {
    // 16,000 `?` after a path kept the event loop busy 0.5 s per request in the quadratic masker.
    const baseUrl = await listen(demo.app);
    const hostile = `${baseUrl}/anything${'?'.repeat(15_000)}`;
    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: 4 }, () => fetch(hostile)));
    const health = await fetch(`${baseUrl}/healthz`);
    // Quadratic masking takes tens of seconds here; the bound only catches that.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(health.status).toBe(200);
    expect(responses.map((response) => response.status)).not.toContain(500);
    const logged = demo.logs.filter((line) => line.includes('/anything'));
    expect(logged.length).toBeGreaterThan(0);
    for (const line of logged) expect(line.length).toBeLessThan(4_096);
  });

  it('redact tokens in the fields of the handler logger', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = amqLoggerOf(createLogger('debug', stream));
    logger.warn('dropped', {
      message: { accessToken: 'ciba-token-secret-3', payload: 'payload-secret-5' },
    });
    logger.debug('debug', { headers: { authorization: 'Bearer user-token-secret-4' } });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('"component":"amq"');
    for (const secret of SECRETS) expect(lines.join('')).not.toContain(secret);
  });
});
