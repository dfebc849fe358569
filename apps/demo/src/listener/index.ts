import type { AMQHandler } from '@teal/amq-core';
import type { FastifyInstance } from 'fastify';
import { registerCallbackRoutes } from './callback';
import { registerCibaRoute } from './ciba';
import { refuseOtherMethods } from './other-methods';
import { registerPowensRoute } from './powens';

export interface ListenerOptions {
  readonly handler: AMQHandler;
  readonly callbackRedirectUrl: string | null;
  /** The listener's public URL (`LISTENER_URL`); the request's own origin when `null`. */
  readonly publicUrl?: string | null;
}

/** The listener: the outside world's HTTP calls, turned into messages on the broker. */
export async function registerListener(
  app: FastifyInstance,
  options: ListenerOptions,
): Promise<void> {
  refuseOtherMethods(app, ['/callback', '/errback', '/raw-callback'], 'GET');
  refuseOtherMethods(app, ['/openid-ciba-callback', '/powens-webhook/:domain/:event'], 'POST');
  registerCallbackRoutes(app, {
    handler: options.handler,
    redirectUrl: options.callbackRedirectUrl,
    publicUrl: options.publicUrl ?? null,
  });
  await registerCibaRoute(app, options.handler);
  await registerPowensRoute(app, options.handler);
}
