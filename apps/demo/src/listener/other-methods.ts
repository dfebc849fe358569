import type { FastifyInstance, HTTPMethods } from 'fastify';
import { replyText } from './replies';

const METHODS: readonly HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * Answers 405 to every method of `urls` but `allowed`, without sending
 * anything: a link prefetcher's `HEAD /callback?state=…` must not deliver
 * the callback (Fastify would run the GET handler for it). Registered before
 * the routes themselves, so that Fastify adds no HEAD route of its own.
 */
export function refuseOtherMethods(
  app: FastifyInstance,
  urls: readonly string[],
  allowed: HTTPMethods,
): void {
  const methods = METHODS.filter((method) => method !== allowed);
  for (const url of urls) {
    app.route({
      method: methods,
      url,
      handler: async (request, reply) => {
        reply.header('allow', allowed);
        if (request.method === 'HEAD') return reply.code(405).send();
        return replyText(reply, 405, `${request.method} is not allowed here: use ${allowed}.`);
      },
    });
  }
}
