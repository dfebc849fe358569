import { afterEach, describe, expect, it } from 'vitest';
import { startTestDemo, type TestDemo } from './helpers/server';

let demo: TestDemo | null = null;

afterEach(async () => {
  await demo?.close();
  demo = null;
});

describe('the page', () => {
  it('serves the HTML with a strict content security policy', async () => {
    demo = await startTestDemo();
    const response = await demo.app.inject({ url: '/', headers: { host: 'demo.example:8080' } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.body).toContain('<script type="module" src="/page/app.js"></script>');
    expect(response.body).toContain('<strong>memory</strong> broker');
    expect(response.body).toContain('data-listener-url=""');
    const policy = String(response.headers['content-security-policy']);
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self' ws://demo.example:8080 wss://demo.example:8080;");
  });

  it('points to the listener when it runs apart, escaped', async () => {
    demo = await startTestDemo({
      argv: ['--role', 'dispatcher'],
      env: { LISTENER_URL: 'https://listener.example/a"b/' },
    });
    const response = await demo.app.inject({ url: '/' });
    expect(response.body).toContain('data-listener-url="https://listener.example/a&#34;b"');
    expect(response.headers['content-security-policy']).toContain(' https://listener.example;');
  });

  it('serves a browser bundle of the script, @teal/messages included', async () => {
    demo = await startTestDemo();
    const response = await demo.app.inject({ url: '/page/app.js' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/javascript; charset=utf-8');
    // computePowensSignature and the wire schemas travel with the page.
    expect(response.body).toContain('crypto.subtle');
    expect(response.body).not.toMatch(/\bfrom\s*["']node:|require\(["']/);
  });

  it('serves the style', async () => {
    demo = await startTestDemo();
    const response = await demo.app.inject({ url: '/page/app.css' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/css; charset=utf-8');
  });
});
