import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chromiumUnavailable, launchChromium } from './helpers/chromium';
import { type DemoProcess, ensureBundle, startDemoProcess } from './helpers/process';
import { describeIfAvailable } from './helpers/require';

const ARTIFACT = 'test-results/browser-demo.png';
// Refreshed on demand only (UPDATE_SCREENSHOT=1), so runs leave the tree clean.
const README_SCREENSHOT = 'docs/screenshot.png';
const TIMEOUT = { timeout: 30_000 };

// Against the production build (`pnpm --filter @teal/demo build`), as an operator runs it.
describeIfAvailable(
  'the page in Chromium, served by the built bundle',
  chromiumUnavailable(),
  () => {
    let demo: DemoProcess;
    let baseUrl: string;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;

    beforeAll(async () => {
      ensureBundle();
      demo = await startDemoProcess(
        'both',
        {
          AMQP_URL: 'memory://',
          HOST: '127.0.0.1',
          PORT: '0',
          DISPATCHER_PASSWORD: 'browser-password',
        },
        60_000,
        'bundle',
      );
      baseUrl = demo.url;
      browser = await launchChromium();
      context = await browser.newContext({ viewport: { width: 1200, height: 820 } });
      page = await context.newPage();
      await page.goto(`${baseUrl}/#password=browser-password`);
      await page.waitForSelector('[data-testid=connection][data-state=open]', TIMEOUT);
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      await demo?.stop();
    });

    it('plays the OAuth provider in a new tab and shows the callback arriving', async () => {
      const link = await page.waitForSelector('[data-testid=provider-link][href^="http"]', TIMEOUT);
      const state = await page.textContent('[data-testid=callback-state]');
      expect(state).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect(await link.getAttribute('href')).toMatch(
        new RegExp(`^${baseUrl}/callback\\?state=${state}&code=`),
      );

      const [provider] = await Promise.all([context.waitForEvent('page', TIMEOUT), link.click()]);
      await provider.waitForLoadState();
      expect(await provider.textContent('body')).toContain('Callback received');
      await provider.close();

      const event = await page.waitForSelector('[data-testid=callback-event]', TIMEOUT);
      expect(await event.textContent()).toContain(`state${state}`);
      await page.waitForFunction(
        () =>
          document
            .querySelector('[data-testid=callback-status]')
            ?.textContent?.includes('the callback arrived'),
        undefined,
        TIMEOUT,
      );
    }, 60_000);

    it('forwards a state that only the fragment carries', async () => {
      const state = await page.textContent('[data-testid=callback-state]');
      const provider = await context.newPage();
      await provider.goto(`${baseUrl}/callback#state=${state}&code=in-the-fragment`);
      await provider.waitForURL(/\/raw-callback\?full_url=/, TIMEOUT);
      expect(await provider.textContent('body')).toContain('Callback received');
      await provider.close();
      await page.waitForFunction(
        () =>
          [...document.querySelectorAll('[data-testid=callback-event]')].some((e) =>
            e.textContent?.includes('in-the-fragment'),
          ),
        undefined,
        TIMEOUT,
      );
    }, 60_000);

    it('shows a signed webhook and verifies its HMAC with the typed secret', async () => {
      await page.waitForFunction(
        () =>
          document
            .querySelector('[data-testid=powens-status]')
            ?.textContent?.startsWith('waiting for webhooks'),
        undefined,
        TIMEOUT,
      );
      await page.fill('[data-testid=powens-secret]', 'typed-secret');
      await page.click('[data-testid=send-test-webhook]');
      await page.waitForSelector('[data-testid=webhook-event] .verdict[data-state=valid]', TIMEOUT);

      await page.fill('[data-testid=powens-secret]', 'another-secret');
      await page.waitForSelector(
        '[data-testid=webhook-event] .verdict[data-state=invalid]',
        TIMEOUT,
      );
      await page.fill('[data-testid=powens-secret]', 'typed-secret');
      await page.waitForSelector('[data-testid=webhook-event] .verdict[data-state=valid]', TIMEOUT);

      mkdirSync('test-results', { recursive: true });
      await page.screenshot({ path: ARTIFACT, fullPage: true });
      if (process.env.UPDATE_SCREENSHOT === '1')
        await page.screenshot({ path: README_SCREENSHOT, fullPage: true });
    }, 60_000);
  },
);
