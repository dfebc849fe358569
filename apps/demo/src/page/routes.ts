import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { pageAssetPath, pageScript } from './bundle';

function readAsset(name: string): string {
  const path = pageAssetPath(name);
  if (path === null) {
    throw new Error(`[@teal/demo] the page asset ${name} is missing: rebuild the demo`);
  }
  return readFileSync(path, 'utf8');
}

const HTML = readAsset('index.html');
const CSS = readAsset('app.css');

export interface PageOptions {
  /** The listener's public base URL when it runs apart; the page's own origin otherwise. */
  readonly listenerUrl: string | null;
  /** The broker's kind, shown on the page (`memory`, `amqp` …): never its URL. */
  readonly brokerName: string;
}

/** `GET /`: the live page, its script and its style. */
export async function registerPage(app: FastifyInstance, options: PageOptions): Promise<void> {
  // Built before listening, so a broken bundle stops the service at start.
  await pageScript();
  const html = HTML.replace('{{listenerUrl}}', escapeHtml(options.listenerUrl ?? '')).replace(
    '{{broker}}',
    escapeHtml(options.brokerName),
  );
  const listenerOrigin =
    options.listenerUrl === null ? '' : ` ${new URL(options.listenerUrl).origin}`;

  app.get('/', async (request, reply) => {
    const wsOrigins = `ws://${request.host} wss://${request.host}`;
    return reply
      .header(
        'content-security-policy',
        `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ${wsOrigins}${listenerOrigin}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      )
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      .send(html);
  });
  app.get('/page/app.js', async (_request, reply) =>
    reply
      .header('cache-control', 'no-cache')
      .type('text/javascript; charset=utf-8')
      .send(await pageScript()),
  );
  app.get('/page/app.css', async (_request, reply) =>
    reply.header('cache-control', 'no-cache').type('text/css; charset=utf-8').send(CSS),
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
