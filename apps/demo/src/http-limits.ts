import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface HttpLimits {
  /** The total time a request may take, from its headers to its answer. */
  readonly requestTimeoutMs: number;
  /** How many connections one client address may hold at once; 0 for no cap. */
  readonly maxConnectionsPerIp: number;
}

/**
 * The options of Node's HTTP server for these limits. Node enforces its own
 * request and header timeouts only when it checks its connections, so the
 * check runs every second; the per-request timer of `applyHttpLimits` is
 * what keeps the deadline exact.
 */
export function httpServerOptions(limits: HttpLimits, maxHeaderSize: number) {
  return {
    maxHeaderSize,
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: Math.min(limits.requestTimeoutMs, 10_000),
    connectionsCheckingInterval: 1_000,
  };
}

/** Whether a request asks for a protocol upgrade (a WebSocket). */
export function isUpgradeRequest(request: FastifyRequest): boolean {
  return (
    request.headers.upgrade !== undefined && /\bupgrade\b/i.test(request.headers.connection ?? '')
  );
}

/**
 * Gives every request a total deadline, drops connections whose request was
 * answered while its body is still arriving (a slow body must not hold a
 * connection after a 401), and caps the connections of each client address.
 */
export function applyHttpLimits(app: FastifyInstance, limits: HttpLimits): void {
  app.addHook('onRequest', async (request, reply) => {
    // A WebSocket outlives its upgrade request: the dispatcher's heartbeat watches it.
    if (isUpgradeRequest(request)) return;
    const socket = request.raw.socket;
    const timer = setTimeout(() => {
      request.log.info(
        { timeoutMs: limits.requestTimeoutMs },
        'request timed out: connection closed',
      );
      socket.destroy();
    }, limits.requestTimeoutMs);
    timer.unref();
    reply.raw.once('close', () => clearTimeout(timer));
  });
  app.addHook('onResponse', async (request) => {
    if (!request.raw.complete) request.raw.socket?.destroy();
  });
  if (limits.maxConnectionsPerIp > 0) capConnectionsPerIp(app, limits.maxConnectionsPerIp);
}

function capConnectionsPerIp(app: FastifyInstance, cap: number): void {
  const open = new Map<string, number>();
  app.server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = (open.get(address) ?? 0) + 1;
    if (count > cap) {
      // Not logged above debug: the client decides how often this happens.
      app.log.debug({ cap }, 'connection refused: too many from one address');
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}
