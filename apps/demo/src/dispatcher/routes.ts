import websocket from '@fastify/websocket';
import type { AMQHandler } from '@teal/amq-core';
import type { Message } from '@teal/messages';
import type { FastifyInstance } from 'fastify';
import { replyText } from '../listener/replies';
import { hasDispatcherCredentials } from './auth';
import { DispatcherConnection } from './connection';

export interface DispatcherOptions {
  readonly handler: AMQHandler;
  readonly password: string;
  readonly maxRegistrationsPerSocket: number;
  /** How often idle clients are pinged; one that misses a ping is dropped. */
  readonly heartbeatMs?: number;
  /** Pushes a message as a span of its trace, when telemetry is on. */
  readonly tracePush?: (
    message: Message,
    push: (sent: (error?: Error | null) => void) => void,
  ) => void;
}

const MAX_CLIENT_FRAME_BYTES = 64 * 1024;

/**
 * `GET /ws`: the WebSocket dispatcher. Each key a client registers is a
 * subscription of the handler, whose messages are pushed to the client;
 * clients waiting on one key share its broker binding.
 */
export async function registerDispatcher(
  app: FastifyInstance,
  options: DispatcherOptions,
): Promise<void> {
  await app.register(websocket, { options: { maxPayload: MAX_CLIENT_FRAME_BYTES } });

  const connections = new Set<DispatcherConnection>();
  const heartbeat = setInterval(() => {
    for (const connection of connections) connection.heartbeat();
  }, options.heartbeatMs ?? 30_000);
  heartbeat.unref();
  app.addHook('onClose', async () => clearInterval(heartbeat));

  app.get(
    '/ws',
    {
      websocket: true,
      // Refused before the upgrade: a client with wrong credentials never gets a socket.
      preValidation: async (request, reply) => {
        if (!hasDispatcherCredentials(request, options.password)) {
          reply.header('www-authenticate', 'Basic realm="teal-dispatcher", charset="UTF-8"');
          return replyText(
            reply,
            401,
            'The dispatcher needs the user anonymous and its password, as HTTP Basic or ?credentials=<base64 of anonymous:password>.',
          );
        }
      },
    },
    (socket, request) => {
      const connection = new DispatcherConnection(socket, {
        handler: options.handler,
        maxRegistrations: options.maxRegistrationsPerSocket,
        log: request.log,
        ...(options.tracePush === undefined ? {} : { tracePush: options.tracePush }),
      });
      connections.add(connection);
      socket.on('close', () => connections.delete(connection));
    },
  );
}
