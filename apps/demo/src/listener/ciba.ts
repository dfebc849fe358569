import type { AMQHandler } from '@teal/amq-core';
import { openIDCIBACallbackMessage } from '@teal/messages';
import type { FastifyInstance } from 'fastify';
import {
  CIBA_BODY_ERROR,
  type CibaBody,
  cibaBodySchema,
  pushErrorOf,
  pushTokenOf,
} from './ciba-schema';
import { replyText, sendOrReply503 } from './replies';

const BEARER = /^bearer +([a-z0-9.~+/_=-]{1,1024})$/i;

/** The bearer token of an `Authorization` header, or `null`. */
export function cibaBearerTokenOf(header: string | undefined): string | null {
  return (header === undefined ? null : BEARER.exec(header)?.[1]) ?? null;
}

/** `POST /openid-ciba-callback`: CIBA ping and push notifications to messages. */
export async function registerCibaRoute(app: FastifyInstance, handler: AMQHandler): Promise<void> {
  // Encapsulated: this route reads JSON only (415 for anything else).
  await app.register(async (scope) => {
    scope.removeContentTypeParser('text/plain');
    registerRoute(scope, handler);
  });
}

function registerRoute(app: FastifyInstance, handler: AMQHandler): void {
  app.post<{ Body: CibaBody }>(
    '/openid-ciba-callback',
    {
      schema: { body: cibaBodySchema },
      schemaErrorFormatter: () => Object.assign(new Error(CIBA_BODY_ERROR), { statusCode: 400 }),
      // Refused before the body is even read.
      onRequest: async (request, reply) => {
        if (cibaBearerTokenOf(request.headers.authorization) === null) {
          reply.header('www-authenticate', 'Bearer');
          return replyText(reply, 401, 'An Authorization: Bearer <token> header is required.');
        }
      },
    },
    async (request, reply) => {
      const body = request.body;
      const message = openIDCIBACallbackMessage({
        requestId: body.auth_req_id,
        accessToken: cibaBearerTokenOf(request.headers.authorization),
        pushToken: pushTokenOf(body, new Date()),
        pushError: pushErrorOf(body),
      });
      if (!(await sendOrReply503(handler, message, request, reply))) return reply;
      return reply.code(204).send();
    },
  );
}
