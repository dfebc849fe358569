import type { CallbackMessage } from '@teal/messages';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestDemo, type TestDemo } from './helpers/server';

let demo: TestDemo;

beforeEach(async () => {
  demo = await startTestDemo();
});
afterEach(async () => {
  await demo.close();
});

async function received(): Promise<CallbackMessage> {
  const [message] = await demo.inbox.receive(1);
  expect(message?.kind).toBe('callback');
  return message as CallbackMessage;
}

describe('GET /callback and /errback', () => {
  it('sends the full URL and state, then answers a plain page', async () => {
    await demo.peer.bindCallbackState('st-1');
    const response = await demo.app.inject({
      url: '/callback?state=st-1&code=abc',
      headers: { host: 'auth.example:8080' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toContain('continues the flow');
    const message = await received();
    expect(message.state).toBe('st-1');
    expect(message.url).toBe('http://auth.example:8080/callback?state=st-1&code=abc');
  });

  it('treats /errback the same way', async () => {
    await demo.peer.bindCallbackState('st-2');
    const response = await demo.app.inject({ url: '/errback?error=access_denied&state=st-2' });
    expect(response.statusCode).toBe(200);
    const message = await received();
    expect(message.url).toMatch(/\/errback\?error=access_denied&state=st-2$/);
  });

  it('answers a page that forwards the fragment when the query has no state', async () => {
    const response = await demo.app.inject({ url: '/callback?code=abc' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toContain(
      "location.replace('raw-callback?full_url='+encodeURIComponent(location.href))",
    );
    expect(response.headers['content-security-policy']).toMatch(
      /script-src 'sha256-[A-Za-z0-9+/=]+'/,
    );
    expect(demo.inbox.size).toBe(0);
  });

  it('redirects where configured once the message is sent', async () => {
    await demo.close();
    demo = await startTestDemo({ env: { CALLBACK_REDIRECT_URL: 'https://app.example/continue' } });
    await demo.peer.bindCallbackState('st-3');
    const response = await demo.app.inject({ url: '/callback?state=st-3' });
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('https://app.example/continue');
    expect((await received()).state).toBe('st-3');
  });

  it('refuses a repeated state with a plain-text 400', async () => {
    const response = await demo.app.inject({ url: '/callback?state=a&state=b' });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.body).toMatch(/state/);
  });

  it('answers 503 when the broker does not take the message', async () => {
    await demo.handler.close();
    const response = await demo.app.inject({ url: '/callback?state=st-4' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.body).toContain('retry later');
  });
});

describe('GET /raw-callback', () => {
  // The listener's own origin, as the fragment page sees it.
  const raw = (fullUrl: string, host = 'listener.example') =>
    demo.app.inject({
      url: `/raw-callback?full_url=${encodeURIComponent(fullUrl)}`,
      headers: { host },
    });

  it('takes the state from the fragment', async () => {
    await demo.peer.bindCallbackState('frag');
    const fullUrl = 'http://listener.example/callback#state=frag&code=c0de';
    const response = await raw(fullUrl);
    expect(response.statusCode).toBe(200);
    const message = await received();
    expect(message).toMatchObject({ state: 'frag', url: fullUrl });
  });

  it('takes the state from a query that starts with &', async () => {
    await demo.peer.bindCallbackState('amp');
    const fullUrl = 'http://listener.example/callback&state=amp&code=b';
    expect((await raw(fullUrl)).statusCode).toBe(200);
    expect(await received()).toMatchObject({ state: 'amp', url: fullUrl });
  });

  it('takes the state from the query first', async () => {
    await demo.peer.bindCallbackState('query');
    expect(
      (await raw('http://listener.example/callback?state=query#state=fragment')).statusCode,
    ).toBe(200);
    expect((await received()).state).toBe('query');
  });

  it('refuses a missing full_url', async () => {
    const response = await demo.app.inject({ url: '/raw-callback' });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.body).toContain('full_url');
  });

  it('refuses a full_url that is not absolute', async () => {
    const response = await raw('/callback?state=x');
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('absolute http: or https: URL of this listener');
  });

  it.each([
    'javascript:alert(document.cookie)//?state=x',
    'data:text/html,<script>alert(1)</script>?state=x',
    'file:///etc/passwd?state=x',
    'mailto:a@listener.example?state=x',
    'about:blank?state=x',
    'blob:http://listener.example/1?state=x',
    'ftp://listener.example/callback?state=x',
    'C:\\callback?state=x',
    'https://listener.example/callback?state=x',
    'http://evil.example/callback?state=x',
    'http://listener.example:8080/callback?state=x',
  ])('refuses %s with 400 and sends nothing', async (fullUrl) => {
    await demo.peer.bindCallbackState('x');
    const response = await raw(fullUrl);
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('http://listener.example/callback?state=');
    expect(await demo.inbox.settle(0)).toEqual([]);
  });

  it('takes the origin of LISTENER_URL when it is set', async () => {
    await demo.close();
    demo = await startTestDemo({ env: { LISTENER_URL: 'https://public.example/' } });
    await demo.peer.bindCallbackState('pub');
    expect((await raw('http://listener.example/callback?state=pub')).statusCode).toBe(400);
    const fullUrl = 'https://public.example/callback#state=pub';
    expect((await raw(fullUrl)).statusCode).toBe(200);
    expect(await received()).toMatchObject({ state: 'pub', url: fullUrl });
  });

  it('refuses a full_url without a state', async () => {
    const response = await raw('http://listener.example/callback?code=x#code=y');
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('no state');
  });

  it('answers 503 when the broker does not take the message', async () => {
    await demo.handler.close();
    expect((await raw('http://listener.example/callback?state=x')).statusCode).toBe(503);
  });
});
