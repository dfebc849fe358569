import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestDemo, type TestDemo } from './helpers/server';

let demo: TestDemo;

beforeEach(async () => {
  demo = await startTestDemo();
});
afterEach(async () => {
  await demo.close();
});

describe('methods other than the route is for', () => {
  it('HEAD /callback with a state answers 405 and sends nothing; the GET then sends once', async () => {
    await demo.peer.bindCallbackState('prefetched');
    const head = await demo.app.inject({
      method: 'HEAD',
      url: '/callback?state=prefetched&code=c',
    });
    expect(head.statusCode).toBe(405);
    expect(head.headers.allow).toBe('GET');
    expect(head.body).toBe('');
    expect(await demo.inbox.settle(0)).toEqual([]);

    const get = await demo.app.inject({ url: '/callback?state=prefetched&code=c' });
    expect(get.statusCode).toBe(200);
    expect(await demo.inbox.settle(1)).toHaveLength(1);
  });

  it.each(['HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const)(
    '%s on the GET routes sends nothing',
    async (method) => {
      await demo.peer.bindCallbackState('m');
      for (const url of [
        '/callback?state=m',
        '/errback?state=m',
        `/raw-callback?full_url=${encodeURIComponent('http://localhost:80/callback?state=m')}`,
      ]) {
        const response = await demo.app.inject({ method, url });
        expect(response.statusCode, `${method} ${url}`).toBe(405);
        expect(response.headers.allow).toBe('GET');
      }
      expect(await demo.inbox.settle(0)).toEqual([]);
    },
  );

  it.each(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE'] as const)(
    '%s on the POST routes sends nothing',
    async (method) => {
      await demo.peer.bindOpenIDCIBARequestIdentifier('r');
      await demo.peer.bindPowensDomainWebhooks('m.biapi.pro');
      const headers = { authorization: 'Bearer t', 'content-type': 'application/json' };
      for (const url of ['/openid-ciba-callback', '/powens-webhook/m.biapi.pro/E']) {
        const response = await demo.app.inject({
          method,
          url,
          headers,
          ...(method === 'GET' || method === 'HEAD' ? {} : { payload: '{"auth_req_id":"r"}' }),
        });
        expect(response.statusCode, `${method} ${url}`).toBe(405);
        expect(response.headers.allow).toBe('POST');
      }
      expect(await demo.inbox.settle(0)).toEqual([]);
    },
  );
});
