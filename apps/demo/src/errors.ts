import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isUpgradeRequest } from './http-limits';
import { replyText } from './listener/replies';

/**
 * Fastify's `frameworkErrors`: a request target that is not a valid URL
 * (`*?a=b`, `%zz`), refused before any route or hook runs. Plain text like
 * every other error, without echoing the target (it may carry a secret);
 * an upgrade request's socket left Node's HTTP parser, so it is closed here.
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (isUpgradeRequest(request)) reply.raw.once('finish', () => request.raw.socket.destroy());
  if (error.code === 'FST_ERR_BAD_URL') {
    return replyText(reply, 400, 'The request target is not a valid URL.');
  }
  return replyText(reply, 400, 'The request could not be routed.');
}

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
