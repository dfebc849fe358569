import type { AMQHandler } from '@teal/amq-core';
import { callbackMessage } from '@teal/messages';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CallbackState, StateStore } from '../states/index';
import { callbackStateOf, originOf, parseFullUrl } from './callback-url';
import { FRAGMENT_PAGE, FRAGMENT_PAGE_CSP } from './fragment-page';
import { replyText, sendOrReply503 } from './replies';

export interface CallbackRoutesOptions {
  readonly handler: AMQHandler;
  /** The states the dispatcher's clients created: a stored `final_redirect_url` wins over `redirectUrl`. */
  readonly states: StateStore;
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

  /** Answers a redirect whose state was found (or not) in its request. */
  async function onRedirect(request: FastifyRequest, reply: FastifyReply, state: string | null) {
    noStore(reply);
    // The state may be in the fragment, which only the browser knows.
    if (!state) return fragmentPage(reply);
    const stored = await storedStateOf(state, request, reply);
    if (stored === undefined) return reply;
    // The client asked for the full URL: only the browser knows the fragment.
    if (stored?.withFragment) return fragmentPage(reply);
    const url = `${request.protocol}://${request.host}${request.url}`;
    return forward(request, reply, url, state, stored);
  }
  const withQuery = async (
    request: FastifyRequest<{ Querystring: { state?: string } }>,
    reply: FastifyReply,
  ) => onRedirect(request, reply, request.query.state ?? null);
  // Some providers start the query with `&` (`/callback&state=a&code=b`): the path holds it.
  const withAmpersand = async (request: FastifyRequest, reply: FastifyReply) =>
    onRedirect(request, reply, callbackStateOf(new URL(request.url, 'http://path.invalid')));
  for (const path of ['/callback', '/errback']) {
    app.get(path, { schema: { querystring: callbackQuery } }, withQuery);
    app.get(`${path}&*`, withAmpersand);
  }

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
      const stored = await storedStateOf(state, request, reply);
      if (stored === undefined) return reply;
      return forward(request, reply, fullUrl, state, stored);
    },
  );

  /** The stored state, `null` when unknown or expired; `undefined` once it answered 503. */
  async function storedStateOf(
    state: string,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<CallbackState | null | undefined> {
    try {
      return await options.states.get(state);
    } catch (error) {
      // Nothing was sent yet: reloading the page (fragment included) does it all again.
      request.log.warn({ err: error }, 'the state store did not answer');
      reply.header('retry-after', '5');
      replyText(reply, 503, 'The callback state store did not answer: reload this page to retry.');
      return undefined;
    }
  }

  async function forward(
    request: FastifyRequest,
    reply: FastifyReply,
    url: string,
    state: string,
    stored: CallbackState | null,
  ) {
    const message = callbackMessage({ url, state });
    if (!(await sendOrReply503(options.handler, message, request, reply))) return reply;
    if (stored?.finalRedirectUrl) {
      // Serialised by the URL parser: a Location header holds no raw non-ASCII character.
      return reply.redirect(new URL(stored.finalRedirectUrl).href, 302);
    }
    if (options.redirectUrl !== null) return reply.redirect(options.redirectUrl, 303);
    return replyText(
      reply,
      200,
      'Callback received: the application continues the flow. You can close this tab.',
    );
  }
}

function fragmentPage(reply: FastifyReply): FastifyReply {
  return reply
    .code(200)
    .header('content-security-policy', FRAGMENT_PAGE_CSP)
    .type('text/html; charset=utf-8')
    .send(FRAGMENT_PAGE);
}

function noStore(reply: FastifyReply): void {
  // The URL carries an authorization code: keep it out of caches and referrers.
  reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
}
