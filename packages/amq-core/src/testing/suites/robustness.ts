import { callbackMessage, encodeMessage, powensWebhookMessage, routingKeyOf } from '@teal/messages';
import { describe, expect, it } from 'vitest';
import type { ErrorContext } from '../../types';
import type { SuiteContext } from '../context';
import { Inbox, publishRawForTesting, randomKey, recordLogs, sleep, waitFor } from '../helpers';

export function robustnessSuite(suite: SuiteContext): void {
  describe('robustness', () => {
    it('drops garbage on the wire with a warning that names the exchange but no token, and goes on', async () => {
      const { logger, records } = recordLogs();
      const warnings = () => records.filter((record) => record.level === 'warn');
      const handler = await suite.handler({ logger });
      const inbox = new Inbox(handler);
      const state = randomKey('garbage');
      await handler.bindCallbackState(state);
      const garbage = [
        '{"state": "SECRET-TOKEN-1", "url":', // not JSON
        JSON.stringify({ url: 'https://x.test/?access_token=SECRET-TOKEN-2' }), // no state
        new Uint8Array([0xff, 0xfe, 0x00]), // not UTF-8
        '["SECRET-TOKEN-3"]',
      ];
      for (const body of garbage) await publishRawForTesting(handler, 'callbacks', state, body);
      await handler.send(callbackMessage({ url: 'https://x.test/cb?valid', state }));
      const [received] = await inbox.receive(1);
      expect(received).toMatchObject({ url: 'https://x.test/cb?valid' });
      await inbox.settle(1);
      await waitFor(() => warnings().length >= garbage.length, 'a warning per garbage body');
      for (const warning of warnings()) {
        expect(warning.fields).toMatchObject({ exchange: 'callbacks' });
        expect(String(warning.fields?.reason ?? '')).not.toBe('');
      }
      expect(JSON.stringify(records)).not.toMatch(/SECRET-TOKEN/);
    });

    it('survives a callback that throws or rejects, reporting each error to onError', async () => {
      const handler = await suite.handler();
      const errors: Array<{ error: unknown; context: ErrorContext }> = [];
      handler.onError = (error, context) => errors.push({ error, context });
      const received: string[] = [];
      handler.callback = async (message) => {
        const url = message.kind === 'callback' ? message.url : '';
        received.push(url);
        if (url.endsWith('throw')) throw new Error('callback threw');
        if (url.endsWith('reject')) return Promise.reject(new Error('callback rejected'));
      };
      const state = randomKey('throwing');
      await handler.bindCallbackState(state);
      for (const tail of ['throw', 'reject', 'fine']) {
        await handler.send(callbackMessage({ url: `https://x.test/cb?${tail}`, state }));
      }
      await waitFor(() => received.length === 3, 'three callbacks');
      await waitFor(() => errors.length === 2, 'two reported errors');
      expect(errors.map(({ error }) => (error as Error).message)).toEqual([
        'callback threw',
        'callback rejected',
      ]);
      expect(
        errors.every(
          ({ context }) => context.source === 'callback' && context.exchange === 'callbacks',
        ),
      ).toBe(true);
    });

    it('awaits an async callback before delivering the next message', async () => {
      const handler = await suite.handler();
      let running = 0;
      let maxRunning = 0;
      const order: string[] = [];
      handler.callback = async (message) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(10);
        order.push(message.kind === 'callback' ? message.url : '');
        running--;
      };
      const state = randomKey('async');
      await handler.bindCallbackState(state);
      const urls = Array.from({ length: 20 }, (_, i) => `https://x.test/cb?${i}`);
      await Promise.all(urls.map((url) => handler.send(callbackMessage({ url, state }))));
      await waitFor(() => order.length === 20, 'twenty callbacks');
      expect(maxRunning).toBe(1);
      expect(order).toEqual(urls);
    });

    it('carries a 1 MiB payload whole', async () => {
      const handler = await suite.handler();
      const inbox = new Inbox(handler);
      const domain = `${randomKey('large')}.biapi.pro`;
      await handler.bindPowensDomainWebhooks(domain);
      const payload = JSON.stringify({ data: 'é'.repeat(256 * 1024) + 'x'.repeat(512 * 1024) });
      expect(new TextEncoder().encode(payload).length).toBeGreaterThanOrEqual(1024 * 1024);
      const message = powensWebhookMessage({ domain, event: 'BIG', userToken: 't', payload });
      await handler.send(message);
      const [received] = await inbox.receive(1, 30_000);
      expect(received).toEqual(message);
    });

    it('routes punctuation and unicode keys exactly, never as wildcards', async () => {
      const tag = randomKey('p');
      const keys = [
        'a.b',
        'a b',
        '*',
        '>',
        '#',
        'a.*',
        'a.>',
        'état/½',
        '_',
        'a_b',
        '\u200b',
        ' ',
        '%2E',
      ].map((key) => `${tag}${key}`);
      const handler = await suite.handler();
      const inbox = new Inbox(handler);
      for (const key of keys) await handler.bindCallbackState(key);
      const plain = await suite.handler();
      const plainInbox = new Inbox(plain);
      await plain.bindCallbackState(`${tag}a`);
      for (const key of keys)
        await plain.send(callbackMessage({ url: 'https://x.test/cb', state: key }));
      const messages = await inbox.receive(keys.length);
      expect(messages.map(routingKeyOf).sort()).toEqual([...keys].sort());
      await inbox.settle(keys.length);
      await plainInbox.settle(0);
    });

    it('sends and receives the wire body the Python original writes', async () => {
      const handler = await suite.handler();
      const inbox = new Inbox(handler);
      const state = randomKey('python');
      await handler.bindCallbackState(state);
      const wire = `{"timestamp":"2023-06-01T12:34:56.789012","url":"https://x.test/cb","state":"${state}"}`;
      await publishRawForTesting(handler, 'callbacks', state, wire);
      const [received] = await inbox.receive(1);
      expect(received?.timestamp.toISOString()).toBe('2023-06-01T12:34:56.789Z');
      // Written back as the original writes it: naive UTC, six fraction digits.
      expect(encodeMessage(received!)).toContain('"timestamp":"2023-06-01T12:34:56.789000"');
    });
  });
}
