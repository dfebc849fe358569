import { connect, silentLogger } from '@teal/amq-core';
import { probeBroker, randomPrefix } from '@teal/amq-core/testing';
import type { CallbackMessage } from '@teal/messages';
import { afterEach, describe, expect, it } from 'vitest';
import { readConfig } from '../src/config';
import { ServiceState } from '../src/health';
import { createLogger } from '../src/logging';
import { buildServer } from '../src/server';
import { createMemoryStateStore } from '../src/states/memory';
import { BROKER_URLS } from './helpers/brokers';
import { describeIfAvailable } from './helpers/require';
import { listen, startTestDemo, type TestDemo } from './helpers/server';
import { basic, TestSocket, UpgradeRefused } from './helpers/websocket';

let demo: TestDemo | null = null;
const sockets: TestSocket[] = [];

afterEach(async () => {
  await Promise.all(sockets.splice(0).map((socket) => socket.close()));
  await demo?.close();
  demo = null;
});

async function start(env: Record<string, string> = {}, state?: ServiceState): Promise<TestDemo> {
  demo = await startTestDemo({
    env: { DISPATCHER_PASSWORD: 'pw', ...env },
    ...(state === undefined ? {} : { state }),
  });
  return demo;
}

async function upgrade(baseUrl: string): Promise<TestSocket | UpgradeRefused> {
  try {
    const socket = await TestSocket.open(baseUrl, { headers: basic('anonymous', 'pw') });
    sockets.push(socket);
    return socket;
  } catch (error) {
    if (error instanceof UpgradeRefused) return error;
    throw error;
  }
}

describe('/livez, /readyz and /healthz', () => {
  it('answer 200 while the broker is connected', async () => {
    const { app } = await start();
    for (const url of ['/livez', '/readyz', '/healthz']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    }
  });

  it('/readyz and /healthz answer 503 naming each failing check; /livez stays 200', async () => {
    const state = new ServiceState();
    state.addReadinessCheck({ failure: 'the state store does not answer', isReady: () => false });
    state.addReadinessCheck({
      failure: 'the hanging check did not answer',
      isReady: () => new Promise<boolean>(() => {}),
    });
    state.addReadinessCheck({
      failure: 'the throwing check failed',
      isReady: () => Promise.reject(new Error('no')),
    });
    const { app, handler } = await start({}, state);
    await handler.close();
    for (const url of ['/readyz', '/healthz']) {
      const response = await app.inject({ url });
      expect(response.statusCode).toBe(503);
      expect(response.body).toBe(
        'not ready: the state store does not answer; the hanging check did not answer; ' +
          'the throwing check failed; not connected to the broker\n',
      );
    }
    expect((await app.inject({ url: '/livez' })).statusCode).toBe(200);
  });

  it('while draining: /readyz 503, new WebSockets and listener requests refused, probes served', async () => {
    const state = new ServiceState();
    const { app, peer, inbox } = await start({}, state);
    const baseUrl = await listen(app);
    const before = await upgrade(baseUrl);
    expect(before).toBeInstanceOf(TestSocket);
    await peer.bindCallbackState('drain');

    state.startDraining();
    const readyz = await app.inject({ url: '/readyz' });
    expect(readyz.statusCode).toBe(503);
    expect(readyz.body).toContain('draining');
    expect((await app.inject({ url: '/livez' })).statusCode).toBe(200);
    const refused = await upgrade(baseUrl);
    expect(refused).toBeInstanceOf(UpgradeRefused);
    expect((refused as UpgradeRefused).statusCode).toBe(503);
    const callback = await app.inject({ url: '/callback?state=drain' });
    expect(callback.statusCode).toBe(503);
    expect(await inbox.settle(0)).toEqual([]);
    // The socket opened before keeps being served.
    expect((before as TestSocket).socket.readyState).toBe(1);
  });
});

describe('limits', () => {
  it('refuses WebSockets over MAX_WEBSOCKETS with 503', async () => {
    const { app } = await start({ MAX_WEBSOCKETS: '2' });
    const baseUrl = await listen(app);
    expect(await upgrade(baseUrl)).toBeInstanceOf(TestSocket);
    expect(await upgrade(baseUrl)).toBeInstanceOf(TestSocket);
    const third = await upgrade(baseUrl);
    expect(third).toBeInstanceOf(UpgradeRefused);
    expect((third as UpgradeRefused).statusCode).toBe(503);
    expect((third as UpgradeRefused).body).toContain('as many WebSockets');
  });

  it('limits listener requests per address and minute with a plain-text 429', async () => {
    const { app } = await start({ RATE_LIMIT_PER_MINUTE: '3' });
    const codes: number[] = [];
    for (let index = 0; index < 5; index++) {
      codes.push((await app.inject({ url: '/callback?code=x' })).statusCode);
    }
    expect(codes).toEqual([200, 200, 200, 429, 429]);
    const limited = await app.inject({ url: '/callback?code=x' });
    expect(limited.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(limited.body).toMatch(/^Too many requests from this address \(at most 3 a minute\)/);
    // Another address, and the probes, are not limited.
    const other = await app.inject({ url: '/callback?code=x', remoteAddress: '10.0.0.9' });
    expect(other.statusCode).toBe(200);
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });
});

describe('request ids', () => {
  it('come from X-Request-ID when it is a plausible id, and are echoed and logged', async () => {
    const { app, logs } = await start();
    const response = await app.inject({
      url: '/livez',
      headers: { 'x-request-id': 'req-0123.abc:def' },
    });
    expect(response.headers['x-request-id']).toBe('req-0123.abc:def');
    const callback = await app.inject({
      url: '/callback?code=x',
      headers: { 'x-request-id': 'trace-42' },
    });
    expect(callback.headers['x-request-id']).toBe('trace-42');
    expect(logs.join('')).toContain('"reqId":"trace-42"');
  });

  it.each(['a b', 'x'.repeat(129), '<script>', ''])(
    'are fresh UUIDs for X-Request-ID %j',
    async (given) => {
      const { app } = await start();
      const response = await app.inject({ url: '/livez', headers: { 'x-request-id': given } });
      expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    },
  );
});

describe('TRUST_PROXY', () => {
  const forged = {
    host: 'listener.example',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-proto': 'https',
    'x-forwarded-for': '203.0.113.9',
  };

  async function recordedUrl(env: Record<string, string>, remoteAddress: string): Promise<string> {
    const { app, peer, inbox } = await start(env);
    await peer.bindCallbackState('tp');
    const response = await app.inject({
      url: '/callback?state=tp',
      headers: forged,
      remoteAddress,
    });
    expect(response.statusCode).toBe(200);
    const [message] = await inbox.receive(1);
    await demo?.close();
    demo = null;
    return (message as CallbackMessage).url;
  }

  it('ignores X-Forwarded-* from a peer outside the trusted ranges', async () => {
    expect(await recordedUrl({ TRUST_PROXY: '10.0.0.0/8, fd00::/8' }, '127.0.0.1')).toBe(
      'http://listener.example/callback?state=tp',
    );
    expect(await recordedUrl({}, '10.1.2.3')).toBe('http://listener.example/callback?state=tp');
  });

  it('honours X-Forwarded-* from a trusted proxy (CIDR list or hop count)', async () => {
    expect(await recordedUrl({ TRUST_PROXY: '10.0.0.0/8' }, '10.1.2.3')).toBe(
      'https://evil.example/callback?state=tp',
    );
    expect(await recordedUrl({ TRUST_PROXY: '1' }, '192.0.2.1')).toBe(
      'https://evil.example/callback?state=tp',
    );
  });
});

const AMQP_URL = BROKER_URLS.amqp;

describeIfAvailable(
  'routing keys over the broker limit (RabbitMQ)',
  await probeBroker(AMQP_URL),
  () => {
    it('get 400 with a clear message, not 503', async () => {
      const config = readConfig({ AMQP_URL, DISPATCHER_PASSWORD: 'pw', LOG_LEVEL: 'silent' }, [
        '--role',
        'listener',
      ]);
      const handler = await connect({
        url: AMQP_URL,
        exchangePrefix: randomPrefix(),
        logger: silentLogger,
      });
      const app = await buildServer({
        config,
        handler,
        states: createMemoryStateStore(),
        logger: createLogger('silent'),
      });
      try {
        const state = 's'.repeat(300);
        const callback = await app.inject({ url: `/callback?state=${state}` });
        expect(callback.statusCode).toBe(400);
        expect(callback.body).toBe(
          'The state is 300 bytes long (UTF-8): longer than the message broker takes as a routing key.\n',
        );
        const ciba = await app.inject({
          method: 'POST',
          url: '/openid-ciba-callback',
          headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
          payload: JSON.stringify({ auth_req_id: 'é'.repeat(200) }),
        });
        expect(ciba.statusCode).toBe(400);
        expect(ciba.body).toContain('auth_req_id is 400 bytes long');
        expect((await app.inject({ url: `/callback?state=${'s'.repeat(255)}` })).statusCode).toBe(
          200,
        );
      } finally {
        await app.close();
        await handler.close();
      }
    });
  },
);
