import type { AMQHandler } from '@teal/amq-core';
import { type FastifyInstance, fastify } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import type { DemoConfig } from './config';
import { registerDispatcher } from './dispatcher/routes';
import { registerPlainTextErrors } from './errors';
import { registerListener } from './listener/index';
import { replyText } from './listener/replies';
import { registerPage } from './page/routes';

export interface ServerOptions {
  readonly config: DemoConfig;
  /** The connected handler: the listener sends on it, the dispatcher binds on it. */
  readonly handler: AMQHandler;
  readonly logger: PinoLogger;
  /** How often the dispatcher pings idle WebSockets. */
  readonly heartbeatMs?: number;
}

/** Builds the Fastify app of the configured role, ready to listen (or to `inject` in tests). */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { config, handler } = options;
  const app = fastify({
    loggerInstance: options.logger,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    // Refuse what the schemas do not allow, instead of silently dropping or converting it.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  registerPlainTextErrors(app, config.bodyLimitBytes);

  const hasDispatcher = config.role !== 'listener';
  // The WebSocket plugin must come before every route.
  if (hasDispatcher) {
    await registerDispatcher(app, {
      handler,
      password: config.dispatcherPassword,
      maxRegistrationsPerSocket: config.maxRegistrationsPerSocket,
      ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    });
  }
  if (config.role !== 'dispatcher') {
    await registerListener(app, { handler, callbackRedirectUrl: config.callbackRedirectUrl });
  }
  if (hasDispatcher) {
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
  return app;
}
