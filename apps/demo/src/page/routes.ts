import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { pageScript } from './bundle';

const HTML = readFileSync(new URL('./index.html', import.meta.url), 'utf8');
const CSS = readFileSync(new URL('./app.css', import.meta.url), 'utf8');

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
