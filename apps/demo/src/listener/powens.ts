import type { AMQHandler } from '@teal/amq-core';
import {
  type PowensHMACSignature,
  PowensSignatureError,
  powensHMACSignatureFromRequest,
  powensWebhookMessage,
} from '@teal/messages';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isPowensDomain, POWENS_DOMAIN_SUFFIX } from '../powens-domain';
import { replyText, sendOrReply503 } from './replies';

const USER_TOKEN = /^bearer +([\x21-\x7e]{1,4096})$/i;
// ignoreBOM keeps a leading BOM in the payload: the signature covers it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A request the webhook route refuses, with the text Powens shows the integrator. */
class WebhookRefusal extends Error {}

/**
 * `POST /powens-webhook/:domain/:event`: Powens webhooks to messages, with the
 * body kept byte-exact, since the HMAC signature covers it.
 */
export async function registerPowensRoute(
  app: FastifyInstance,
  handler: AMQHandler,
): Promise<void> {
  // Encapsulated: the raw-body parser applies to this route only.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );

    scope.post<{ Params: { domain: string; event: string }; Body: Buffer | undefined }>(
      '/powens-webhook/:domain/:event',
      async (request, reply) => {
        const { domain, event } = request.params;
        let hmacSignature: PowensHMACSignature | null;
        let userToken: string | null;
        let payload: string;
        try {
          checkDomain(request, domain, event);
          hmacSignature = signatureOf(request);
          userToken = userTokenOf(request.headers.authorization);
          if (hmacSignature === null && userToken === null) {
            throw new WebhookRefusal(
              'A BI-Signature header (with BI-Signature-Date) or an Authorization: Bearer <user token> header is required.',
            );
          }
          payload = payloadOf(request.body);
        } catch (error) {
          if (error instanceof WebhookRefusal) return replyText(reply, 400, error.message);
          throw error;
        }
        const message = powensWebhookMessage({ domain, event, hmacSignature, userToken, payload });
        if (!(await sendOrReply503(handler, message, request, reply))) return reply;
        return reply.code(204).send();
      },
    );
  });
}

function checkDomain(request: FastifyRequest, domain: string, event: string): void {
  if (isPowensDomain(domain)) return;
  const base = `${request.protocol}://${request.host}/powens-webhook`;
  const hint = domain.includes('.')
    ? `${base}/<your domain>${POWENS_DOMAIN_SUFFIX}/${event}`
    : `${base}/${domain}${POWENS_DOMAIN_SUFFIX}/${event}`;
  throw new WebhookRefusal(
    `"${domain}" is not a Powens domain (it must end in ${POWENS_DOMAIN_SUFFIX}): configure the webhook URL as ${hint}`,
  );
}

// The offset that ends an ISO 8601 date: `+05:30`, `-0800`.
const OFFSET = /([+-])(\d{2}):?(\d{2})$/;

/**
 * Refuses a `BI-Signature-Date` whose offset no clock shows (`+05:99`,
 * `+00:60`): Powens never sends one, and pydantic's reading of it (99
 * minutes as 1 h 39 min) is a guess. Decoding a message keeps pydantic's
 * leniency: what a Python sender wrote must still read.
 */
function checkSignatureDateOffset(request: FastifyRequest): void {
  const date = request.headers['bi-signature-date'];
  const offset = typeof date === 'string' ? OFFSET.exec(date.trim()) : null;
  if (offset === null) return;
  const [, , hours, minutes] = offset;
  if (Number(hours) > 23 || Number(minutes) > 59) {
    throw new WebhookRefusal(
      `The BI-Signature-Date header has the impossible offset ${offset[0]}: hours run from 00 to 23 and minutes from 00 to 59.`,
    );
  }
}

function signatureOf(request: FastifyRequest): PowensHMACSignature | null {
  // The signature covers the path as sent, without the query string.
  const path = request.raw.url?.split('?', 1)[0] ?? request.url;
  if (request.headers['bi-signature'] !== undefined) checkSignatureDateOffset(request);
  try {
    return powensHMACSignatureFromRequest({
      method: request.method,
      path,
      headers: request.headers,
    });
  } catch (error) {
    if (error instanceof PowensSignatureError) {
      throw new WebhookRefusal(`The ${error.message.replace(/^\[@teal\/messages\] /, '')}.`);
    }
    throw error;
  }
}

function userTokenOf(authorization: string | undefined): string | null {
  if (authorization === undefined) return null;
  const token = USER_TOKEN.exec(authorization)?.[1];
  if (token === undefined) {
    throw new WebhookRefusal('The Authorization header must be Bearer <user token>.');
  }
  return token;
}

function payloadOf(body: Buffer | undefined): string {
  if (body === undefined) return '';
  try {
    return utf8.decode(body);
  } catch {
    throw new WebhookRefusal('The body must be UTF-8 text.');
  }
}
