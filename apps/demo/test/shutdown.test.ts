import { waitFor } from '@teal/amq-core/testing';
import { describe, expect, it } from 'vitest';
import { startDemoProcess } from './helpers/process';
import { basic, TestSocket } from './helpers/websocket';

const ENV = {
  AMQP_URL: 'memory://',
  HOST: '127.0.0.1',
  PORT: '0',
  DISPATCHER_PASSWORD: 'pw',
  LOG_LEVEL: 'info',
  DRAIN_TIMEOUT_MS: '2000',
  SHUTDOWN_TIMEOUT_MS: '10000',
};

describe('the process', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'on %s drains, closes its WebSockets and exits 0 within SHUTDOWN_TIMEOUT_MS',
    async (signal) => {
      const demo = await startDemoProcess('both', ENV);
      try {
        const client = await TestSocket.open(demo.url, { headers: basic('anonymous', 'pw') });
        await client.request({ register_to: { type: 'callback', state: 'waiting' } });
        const started = performance.now();
        const code = await demo.signal(signal);
        expect(code).toBe(0);
        expect(performance.now() - started).toBeLessThan(10_000);
        await waitFor(() => client.closeCode !== null, 'the socket to close');
        expect(client.closeCode).not.toBe(1006);
        expect(demo.stdout()).toContain('"msg":"stopping: draining"');
        expect(demo.stdout()).toContain('"msg":"stopped"');
      } finally {
        await demo.stop();
      }
    },
  );

  it('writes only JSON lines on stdout, the banner once on stderr', async () => {
    const demo = await startDemoProcess('both', ENV);
    try {
      await fetch(`${demo.url}/callback?state=s&code=c`);
      await fetch(`${demo.url}/nowhere`);
      await demo.stop();
      const lines = demo
        .stdout()
        .split('\n')
        .filter((line) => line !== '');
      expect(lines.length).toBeGreaterThanOrEqual(3);
      for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
      expect(lines.some((line) => line.includes('"msg":"listening"'))).toBe(true);
      const banner = demo.output().match(/^listening on http:\/\/\S+$/gm) ?? [];
      expect(banner).toHaveLength(1);
      expect(demo.stdout()).not.toMatch(/^listening on/m);
    } finally {
      await demo.stop();
    }
  });
});
