import { AMQError, redactUrl } from '@teal/amq-core/adapter';

/** The handler could not connect to RabbitMQ, or lost its connection. */
export class AmqpConnectionError extends AMQError {
  override name = 'AmqpConnectionError';
}

/**
 * An error for `what` went wrong with the broker at `url`: the URL is shown
 * with its password masked, and the cause keeps amqplib's message only, with
 * any copy of the password masked too.
 */
export function connectionError(what: string, url: string, cause: unknown): AmqpConnectionError {
  const reason = scrub(describe(cause), url);
  return new AmqpConnectionError(`[@teal/amq-amqp] ${what} ${redactUrl(url)}: ${reason}`, {
    cause: new Error(reason),
  });
}

/** amqplib's message for an error, with the URL's password (if any) masked. */
export function scrub(text: string, url: string): string {
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    // Not a URL: nothing to mask but the text itself is still amqplib's.
  }
  return password === '' ? text : text.split(password).join('***');
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
