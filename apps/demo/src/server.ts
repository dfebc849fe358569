import type { AMQHandler } from '@teal/amq-core';
import { type FastifyInstance, fastify } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import type { DemoConfig } from './config';
import { registerMetadataRoute } from './dispatcher/metadata';
import { registerDispatcher, WEBSOCKET_PATH } from './dispatcher/routes';
import { registerPlainTextErrors } from './errors';
import { registerListener } from './listener/index';
import { replyText } from './listener/replies';
import { registerPage } from './page/routes';
import type { StateStore } from './states/index';
import type { Telemetry } from './telemetry/index';

export interface ServerOptions {
  readonly config: DemoConfig;
  /** The connected handler: the listener sends on it, the dispatcher binds on it. */
  readonly handler: AMQHandler;
  /** The callback states: written by the dispatcher's `create`, read by the listener; `ping()` tells whether it answers. */
  readonly states: StateStore;
  readonly logger: PinoLogger;
  /** How often the dispatcher pings idle WebSockets. */
  readonly heartbeatMs?: number;
  /** Traces and metrics, when `OTEL_*` variables turned them on. */
  readonly telemetry?: Telemetry | null;
}

/** Builds the Fastify app of the configured role, ready to listen (or to `inject` in tests). */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { config, handler, states } = options;
  const telemetry = options.telemetry ?? null;
  const app = fastify({
    loggerInstance: options.logger,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    // Refuse what the schemas do not allow, instead of silently dropping or converting it.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  registerPlainTextErrors(app, config.bodyLimitBytes);
  telemetry?.instrumentServer(app);

  const hasDispatcher = config.role !== 'listener';
  // The WebSocket plugin must come before every route.
  if (hasDispatcher) {
    await registerDispatcher(app, {
      handler,
      states,
      password: config.dispatcherPassword,
      maxRegistrationsPerSocket: config.maxRegistrationsPerSocket,
      ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
      ...(telemetry === null ? {} : { tracePush: telemetry.tracePush }),
    });
  }
  if (config.role !== 'dispatcher') {
    await registerListener(app, {
      handler,
      states,
      callbackRedirectUrl: config.callbackRedirectUrl,
    });
  }
  if (hasDispatcher) {
    registerMetadataRoute(app, { listenerUrl: config.listenerUrl, websocketPath: WEBSOCKET_PATH });
    await registerPage(app, {
      listenerUrl: config.listenerUrl,
      brokerName: new URL(config.amqpUrl).protocol.replace(/:$/, ''),
    });
  }

  app.get('/healthz', async (_request, reply) =>
    handler.isConnected
      ? replyText(reply, 200, 'ok: connected to the broker')
      : replyText(reply, 503, 'not connected to the broker'),
  );
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
