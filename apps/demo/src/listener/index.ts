import type { AMQHandler } from '@teal/amq-core';
import type { FastifyInstance } from 'fastify';
import type { StateStore } from '../states/index';
import { registerCallbackRoutes } from './callback';
import { registerCibaRoute } from './ciba';
import { registerPowensRoute } from './powens';

export interface ListenerOptions {
  readonly handler: AMQHandler;
  /** The callback states the dispatcher's clients created: where to redirect, whether to fetch the fragment. */
  readonly states: StateStore;
  readonly callbackRedirectUrl: string | null;
}

/** The listener: the outside world's HTTP calls, turned into messages on the broker. */
export async function registerListener(
  app: FastifyInstance,
  options: ListenerOptions,
): Promise<void> {
  registerCallbackRoutes(app, {
    handler: options.handler,
    states: options.states,
    redirectUrl: options.callbackRedirectUrl,
  });
  await registerCibaRoute(app, options.handler);
  await registerPowensRoute(app, options.handler);
}
