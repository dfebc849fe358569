import rateLimit from '@fastify/rate-limit';
import type { AMQHandler } from '@teal/amq-core';
import { type FastifyInstance, fastify, LogController } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import type { DemoConfig } from './config';
import { registerDispatcher } from './dispatcher/routes';
import { answerFrameworkError, registerPlainTextErrors } from './errors';
import { registerHealthRoutes, ServiceState } from './health';
import { applyHttpLimits, httpServerOptions } from './http-limits';
import { registerListener } from './listener/index';
import { replyText } from './listener/replies';
import { registerPage } from './page/routes';
import { registerRequestGuards } from './request-guards';
import { registerRequestIds, requestIdOf } from './request-ids';
import type { Telemetry } from './telemetry/index';

export interface ServerOptions {
  readonly config: DemoConfig;
  /** The connected handler: the listener sends on it, the dispatcher binds on it. */
  readonly handler: AMQHandler;
  readonly logger: PinoLogger;
  /** How often the dispatcher pings idle WebSockets. */
  readonly heartbeatMs?: number;
  /** Traces and metrics, when `OTEL_*` variables turned them on. */
  readonly telemetry?: Telemetry | null;
  /** Readiness checks and draining; one is made (with the broker's check) when not given. */
  readonly state?: ServiceState;
}

/** Builds the Fastify app of the configured role, ready to listen (or to `inject` in tests). */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { config, handler } = options;
  const telemetry = options.telemetry ?? null;
  const state = options.state ?? new ServiceState();
  state.addReadinessCheck({
    failure: 'not connected to the broker',
    isReady: () => handler.isConnected,
  });
  const app = fastify({
    loggerInstance: options.logger,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: fastifyTrustProxy(config.trustProxy),
    http: httpServerOptions(config, config.headerLimitBytes),
    requestTimeout: config.requestTimeoutMs,
    genReqId: requestIdOf,
    // One line per request, written once it is answered (request-ids.ts).
    logController: new LogController({ disableRequestLogging: true }),
    // Refuse what the schemas do not allow, instead of silently dropping or converting it.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
    frameworkErrors: answerFrameworkError,
  }) as unknown as FastifyInstance;
  registerPlainTextErrors(app, config.bodyLimitBytes);
  registerRequestIds(app);
  applyHttpLimits(app, config);
  registerRequestGuards(app, { state, maxWebSockets: config.maxWebSockets });
  telemetry?.instrumentServer(app);

  const hasDispatcher = config.role !== 'listener';
  // The WebSocket plugin must come before every route.
  if (hasDispatcher) {
    await registerDispatcher(app, {
      handler,
      password: config.dispatcherPassword,
      maxRegistrationsPerSocket: config.maxRegistrationsPerSocket,
      maxFrameBytes: config.maxFrameBytes,
      ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
      ...(telemetry === null ? {} : { tracePush: telemetry.tracePush }),
    });
  }
  if (config.role !== 'dispatcher') {
    await app.register(async (scope) => {
      if (config.rateLimitPerMinute > 0) await registerRateLimit(scope, config.rateLimitPerMinute);
      await registerListener(scope, {
        handler,
        callbackRedirectUrl: config.callbackRedirectUrl,
        publicUrl: config.listenerUrl,
      });
    });
  }
  if (hasDispatcher) {
    await registerPage(app, {
      listenerUrl: config.listenerUrl,
      brokerName: new URL(config.amqpUrl).protocol.replace(/:$/, ''),
    });
  }

  registerHealthRoutes(app, state);
  app.get('/metrics', async (_request, reply) => {
    if (telemetry === null) {
      return replyText(
        reply,
        404,
        'Metrics are off: set OTEL_* variables (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_METRICS_EXPORTER=prometheus…) to turn telemetry on.',
      );
    }
    return reply
      .type('text/plain; version=0.0.4; charset=utf-8')
      .send(await telemetry.prometheusText());
  });
  return app;
}

/**
 * `TRUST_PROXY` as Fastify takes it. Fastify trusts no peer for a bare hop
 * count (it cannot tell a proxy from a client that forged the headers), so a
 * hop count becomes what Express and proxy-addr mean by it: the `count`
 * nearest hops are proxies, which holds only when no client reaches the
 * service but through them.
 */
function fastifyTrustProxy(
  trust: DemoConfig['trustProxy'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return typeof trust === 'boolean' ? trust : [...trust];
}

/** A per-address limit on the listener's endpoints, in this process's memory. */
async function registerRateLimit(scope: FastifyInstance, perMinute: number): Promise<void> {
  await scope.register(rateLimit, {
    max: perMinute,
    timeWindow: 60_000,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      message: `Too many requests from this address (at most ${perMinute} a minute): retry in ${Math.ceil(context.ttl / 1000)} s`,
    }),
  });
}
