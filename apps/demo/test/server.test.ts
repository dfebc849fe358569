import { afterEach, describe, expect, it } from 'vitest';
import { startTestDemo, type TestDemo } from './helpers/server';

let demo: TestDemo | null = null;

afterEach(async () => {
  await demo?.close();
  demo = null;
});

describe('GET /healthz', () => {
  it('answers 200 while the handler is connected', async () => {
    demo = await startTestDemo();
    const response = await demo.app.inject({ url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.body).toContain('connected');
  });

  it('answers 503 once the handler is not connected', async () => {
    demo = await startTestDemo();
    await demo.handler.close();
    const response = await demo.app.inject({ url: '/healthz' });
    expect(response.statusCode).toBe(503);
    expect(response.body).toBe('not ready: not connected to the broker\n');
  });
});

describe('roles', () => {
  it('serves everything with the default role', async () => {
    demo = await startTestDemo();
    expect((await demo.app.inject({ url: '/' })).statusCode).toBe(200);
    expect((await demo.app.inject({ url: '/raw-callback' })).statusCode).toBe(400);
    expect((await demo.app.inject({ url: '/ws' })).statusCode).toBe(401);
  });

  it('serves no page and no WebSocket as a listener', async () => {
    demo = await startTestDemo({ argv: ['--role', 'listener'] });
    expect((await demo.app.inject({ url: '/' })).statusCode).toBe(404);
    expect((await demo.app.inject({ url: '/ws' })).statusCode).toBe(404);
    expect((await demo.app.inject({ url: '/callback?state=x' })).statusCode).toBe(200);
    expect((await demo.app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });

  it('serves no listener endpoint as a dispatcher', async () => {
    demo = await startTestDemo({ argv: ['--role=dispatcher'] });
    expect((await demo.app.inject({ url: '/callback?state=x' })).statusCode).toBe(404);
    const webhook = await demo.app.inject({ method: 'POST', url: '/powens-webhook/a.biapi.pro/E' });
    expect(webhook.statusCode).toBe(404);
    expect((await demo.app.inject({ url: '/' })).statusCode).toBe(200);
    expect((await demo.app.inject({ url: '/healthz' })).statusCode).toBe(200);
  });
});

describe('errors', () => {
  it('answers unknown paths with a plain-text 404 that hides the query', async () => {
    demo = await startTestDemo();
    const response = await demo.app.inject({ url: '/nowhere?token=secret' });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.body).toBe('Nothing here: GET /nowhere\n');
  });
});
