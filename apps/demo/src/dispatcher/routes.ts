import websocket from '@fastify/websocket';
import type { AMQHandler } from '@teal/amq-core';
import type { Message } from '@teal/messages';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { replyText } from '../listener/replies';
import { hasDispatcherCredentials } from './auth';
import { DispatcherConnection } from './connection';

export interface DispatcherOptions {
  readonly handler: AMQHandler;
  readonly password: string;
  readonly maxRegistrationsPerSocket: number;
  /** The largest frame a client may send (`WS_MAX_FRAME_BYTES`). */
  readonly maxFrameBytes?: number;
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
  await app.register(websocket, {
    options: { maxPayload: options.maxFrameBytes ?? MAX_CLIENT_FRAME_BYTES },
    errorHandler: onSocketError,
  });

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
      // The upgrade has no answer to log once sent: this is its one line.
      request.log.info({ req: request }, 'websocket opened');
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

/**
 * One line per failed socket: a client that breaks the protocol (invalid
 * UTF-8, an oversized frame: `ws` names them `WS_ERR_*`) is its own mistake,
 * logged at info without a stack; anything else is a fault of ours.
 */
function onSocketError(error: Error, socket: WebSocket, request: FastifyRequest): void {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
    request.log.info(
      { code, reason: error.message },
      'websocket closed: the client broke the protocol',
    );
  } else {
    request.log.error({ err: error }, 'websocket failed');
  }
  socket.terminate();
}
