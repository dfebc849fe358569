import { context } from '@opentelemetry/api';
import { getRPCMetadata, RPCType } from '@opentelemetry/core';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { maskUrl } from '@teal/amq-core';
import type { FastifyInstance } from 'fastify';

// Scrapes and probes every few seconds would drown the requests that matter.
const UNTRACED_PATHS = new Set(['/metrics', '/healthz', '/livez', '/readyz']);

/**
 * HTTP server spans and `http.server.request.duration`. The query is
 * recorded with every value masked: OAuth2 `state` and `code`, a
 * `full_url`, the WebSocket `credentials` travel there, and a list of
 * names to redact would miss a provider's next parameter.
 */
export function httpInstrumentation(): HttpInstrumentation {
  return new HttpInstrumentation({
    disableOutgoingRequestInstrumentation: true,
    ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has(pathOf(request.url ?? '')),
    startIncomingSpanHook: (request) => {
      const masked = maskUrl(request.url ?? '');
      const query = masked.indexOf('?');
      return query < 0 ? {} : { 'url.query': masked.slice(query + 1) };
    },
  });
}

/**
 * Tells the HTTP instrumentation each request's Fastify route, which names
 * its span (`GET /callback`) and labels its metrics (`http.route`).
 */
export function nameRoutes(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    const metadata = getRPCMetadata(context.active());
    if (route !== undefined && metadata?.type === RPCType.HTTP) {
      metadata.route = route;
      // A parameter may be a routing key (a Powens domain): the path is recorded as its route.
      if (route.includes(':')) metadata.span.setAttribute('url.path', route);
    }
    done();
  });
}

function pathOf(target: string): string {
  const end = target.search(/[?#]/);
  return end < 0 ? target : target.slice(0, end);
}
