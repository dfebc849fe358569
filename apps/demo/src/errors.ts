import type { FastifyError, FastifyInstance } from 'fastify';
import { replyText } from './listener/replies';

/**
 * Every error the service answers is plain text: Powens shows error bodies to
 * the integrator as they are. Server errors say nothing of their cause.
 */
export function registerPlainTextErrors(app: FastifyInstance, bodyLimitBytes: number): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const statusCode =
      error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
    if (statusCode >= 500) {
      request.log.error({ err: error }, 'request failed');
      return replyText(
        reply,
        statusCode,
        'Internal error: the request was not handled; retry later.',
      );
    }
    if (statusCode === 413) {
      return replyText(
        reply,
        413,
        `The request body is larger than the limit of ${bodyLimitBytes} bytes.`,
      );
    }
    return replyText(reply, statusCode, `${error.message}.`.replace(/\.\.$/, '.'));
  });
  app.setNotFoundHandler((request, reply) =>
    replyText(reply, 404, `Nothing here: ${request.method} ${request.url.split('?', 1)[0]}`),
  );
}
