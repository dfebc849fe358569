import { type AMQHandler, AMQRoutingKeyError } from '@teal/amq-core';
import { type Message, routingKeyOf } from '@teal/messages';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Answers a plain-text body: Powens shows error bodies to the integrator as they are. */
export function replyText(reply: FastifyReply, statusCode: number, text: string): FastifyReply {
  return reply
    .code(statusCode)
    .type('text/plain; charset=utf-8')
    .send(text.endsWith('\n') ? text : `${text}\n`);
}

/**
 * Sends a message and answers 503 when the broker does not take it, so the
 * caller retries: nothing is acknowledged that was lost. Returns whether it was sent.
 */
export async function sendOrReply503(
  handler: AMQHandler,
  message: Message,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<boolean> {
  try {
    await handler.send(message);
    return true;
  } catch (error) {
    if (error instanceof AMQRoutingKeyError) {
      // The key itself is wrong: a retry would fail the same way.
      replyText(reply, 400, routingKeyRefusal(message));
      return false;
    }
    request.log.warn({ err: error, kind: message.kind }, 'the broker did not accept the message');
    reply.header('retry-after', '5');
    replyText(reply, 503, 'The message broker did not accept the message: retry later.');
    return false;
  }
}

const KEY_NAMES = {
  callback: 'state',
  openid_ciba_callback: 'auth_req_id',
  powens_webhook: 'Powens domain',
} as const;

function routingKeyRefusal(message: Message): string {
  const bytes = Buffer.byteLength(routingKeyOf(message));
  return `The ${KEY_NAMES[message.kind]} is ${bytes} bytes long (UTF-8): longer than the message broker takes as a routing key.`;
}
