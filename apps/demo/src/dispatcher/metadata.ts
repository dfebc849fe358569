import type { FastifyInstance, FastifyRequest } from 'fastify';
// Imported, not read at run time: a bundle carries it inline.
import packageJson from '../../package.json' with { type: 'json' };

/** Where the Python dispatcher's clients discover the service. */
export const METADATA_PATH = '/.well-known/teapots-teal-metadata';

const SERVER_VERSION: string = packageJson.version;

export interface MetadataOptions {
  /** The listener's public base URL; the request's own origin when `null`. */
  readonly listenerUrl: string | null;
  /** The path of the WebSocket the metadata points at. */
  readonly websocketPath: string;
}

/**
 * `GET /.well-known/teapots-teal-metadata`: the service's version and URLs, as
 * the Python dispatcher publishes them. No authentication; CORS open to any
 * origin, without credentials.
 */
export function registerMetadataRoute(app: FastifyInstance, options: MetadataOptions): void {
  app.get(METADATA_PATH, async (request, reply) => {
    const origin = originOf(request);
    const listener = options.listenerUrl ?? origin;
    reply.header('access-control-allow-origin', '*').header('cache-control', 'no-cache');
    return {
      server_version: SERVER_VERSION,
      websocket_url: `${origin.replace(/^http/, 'ws')}${options.websocketPath}`,
      callback_url: `${listener}/callback`,
      errback_url: `${listener}/errback`,
      openid_ciba_callback_url: `${listener}/openid-ciba-callback`,
    };
  });
  app.options(METADATA_PATH, async (request, reply) => {
    const headers = request.headers['access-control-request-headers'];
    reply
      .header('access-control-allow-origin', '*')
      .header('access-control-allow-methods', 'GET, HEAD, OPTIONS')
      .header('access-control-max-age', '600');
    if (headers !== undefined) reply.header('access-control-allow-headers', headers);
    return reply.code(204).send();
  });
}

/** This request's origin, `X-Forwarded-*` included when `TRUST_PROXY` trusts its sender. */
function originOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}
