import type { FastifyInstance } from 'fastify';
import { PROBE_PATHS, type ServiceState } from './health';
import { isUpgradeRequest } from './http-limits';
import { replyText } from './listener/replies';

export interface RequestGuardOptions {
  readonly state: ServiceState;
  /** How many WebSockets the dispatcher holds at once. */
  readonly maxWebSockets: number;
}

/**
 * Refuses, before any route runs: a WebSocket upgrade on a route that is not
 * a WebSocket (`@fastify/websocket` would answer it 101 and log its URL),
 * WebSockets over the cap, and, while the service drains, new WebSockets and
 * new listener requests (probes still answer).
 */
export function registerRequestGuards(app: FastifyInstance, options: RequestGuardOptions): void {
  app.addHook('onRoute', (route) => {
    // `websocket: true` with one handler, or a `wsHandler` beside the HTTP one.
    const { websocket, wsHandler } = route as { websocket?: boolean; wsHandler?: unknown };
    if (websocket === true || typeof wsHandler === 'function') {
      route.config = { ...route.config, isWebSocket: true } as NonNullable<typeof route.config>;
    }
  });
  app.addHook('onRequest', async (request, reply) => {
    const isWebSocketRoute =
      (request.routeOptions.config as { isWebSocket?: boolean } | undefined)?.isWebSocket === true;
    if (isUpgradeRequest(request)) {
      // The socket left Node's HTTP parser for the upgrade: nothing else would close it.
      reply.raw.once('finish', () => request.raw.socket.destroy());
      if (!isWebSocketRoute) {
        return replyText(reply, 400, 'This path does not speak WebSocket.');
      }
      if (options.state.isDraining) {
        return replyText(reply, 503, 'The dispatcher is stopping: connect to another instance.');
      }
      const open = (app as { websocketServer?: { clients?: Set<unknown> } }).websocketServer
        ?.clients?.size;
      if (open !== undefined && open >= options.maxWebSockets) {
        reply.header('retry-after', '5');
        return replyText(
          reply,
          503,
          'The dispatcher holds as many WebSockets as it may: retry later.',
        );
      }
      return;
    }
    if (options.state.isDraining && !PROBE_PATHS.has(request.routeOptions.url ?? '')) {
      reply.header('connection', 'close');
      return replyText(reply, 503, 'The service is stopping: retry on another instance.');
    }
  });
}
