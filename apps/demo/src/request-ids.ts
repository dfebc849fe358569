import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { PROBE_PATHS } from './health';

// What a proxy or a client's tracing sends: a UUID, a hex trace id, a ULID…
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's id: its `X-Request-ID` when that is a plausible id, a fresh UUID otherwise. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Echoes each request's id in `X-Request-ID`, and logs one line per request
 * once it is answered (probes and scrapes at debug): the id ties it to the
 * request's other lines.
 */
export function registerRequestIds(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-request-id', request.id);
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const path = request.routeOptions.url ?? '';
    const level = PROBE_PATHS.has(path) ? 'debug' : 'info';
    request.log[level](
      { req: request, res: reply, responseTimeMs: Math.round(reply.elapsedTime * 10) / 10 },
      'request answered',
    );
  });
}
