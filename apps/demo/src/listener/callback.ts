import type { AMQHandler } from '@teal/amq-core';
import { callbackMessage } from '@teal/messages';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { callbackStateOf, originOf, parseFullUrl } from './callback-url';
import { FRAGMENT_PAGE, FRAGMENT_PAGE_CSP } from './fragment-page';
import { replyText, sendOrReply503 } from './replies';

export interface CallbackRoutesOptions {
  readonly handler: AMQHandler;
  /** Where to send the browser once the callback is on its way; a plain page when `null`. */
  readonly redirectUrl: string | null;
  /** The listener's public URL; the request's own origin when `null`. */
  readonly publicUrl?: string | null;
}

const MAX_URL_LENGTH = 8192;

/** `GET /callback`, `GET /errback` and `GET /raw-callback`: OAuth2 redirects to messages. */
export function registerCallbackRoutes(app: FastifyInstance, options: CallbackRoutesOptions): void {
  const callbackQuery = {
    type: 'object',
    properties: { state: { type: 'string', maxLength: MAX_URL_LENGTH } },
  } as const;

  const onRedirect = async (
    request: FastifyRequest<{ Querystring: { state?: string } }>,
    reply: FastifyReply,
  ) => {
    noStore(reply);
    const state = request.query.state;
    if (!state) {
      // The state may be in the fragment, which only the browser knows.
      return reply
        .code(200)
        .header('content-security-policy', FRAGMENT_PAGE_CSP)
        .type('text/html; charset=utf-8')
        .send(FRAGMENT_PAGE);
    }
    const url = `${request.protocol}://${request.host}${request.url}`;
    return forward(request, reply, url, state);
  };
  app.get('/callback', { schema: { querystring: callbackQuery } }, onRedirect);
  app.get('/errback', { schema: { querystring: callbackQuery } }, onRedirect);

  app.get<{ Querystring: { full_url: string } }>(
    '/raw-callback',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['full_url'],
          properties: { full_url: { type: 'string', minLength: 1, maxLength: MAX_URL_LENGTH } },
        },
      },
    },
    async (request, reply) => {
      noStore(reply);
      const fullUrl = request.query.full_url;
      const origin = options.publicUrl ?? `${request.protocol}://${request.host}`;
      const url = parseFullUrl(fullUrl, origin);
      if (url === null) {
        return replyText(
          reply,
          400,
          `full_url must be an absolute http: or https: URL of this listener, such as ${originOf(origin) ?? 'https://host'}/callback?state=…`,
        );
      }
      const state = callbackStateOf(url);
      if (state === null) {
        return replyText(reply, 400, 'full_url has no state in its query or fragment.');
      }
      return forward(request, reply, fullUrl, state);
    },
  );

  async function forward(request: FastifyRequest, reply: FastifyReply, url: string, state: string) {
    const message = callbackMessage({ url, state });
    if (!(await sendOrReply503(options.handler, message, request, reply))) return reply;
    if (options.redirectUrl !== null) return reply.redirect(options.redirectUrl, 303);
    return replyText(
      reply,
      200,
      'Callback received: the application continues the flow. You can close this tab.',
    );
  }
}

function noStore(reply: FastifyReply): void {
  // The URL carries an authorization code: keep it out of caches and referrers.
  reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
}
