import { maskMessage } from '@teal/amq-core';
import { encodeMessage, type Message, routingKeyOf } from '@teal/messages';
import { KEY_OF_KIND } from './kinds';
import type { Style } from './style';

/** How `listen` and `wait` print a message. */
export interface MessageFormat {
  readonly isPretty: boolean;
  readonly showSecrets: boolean;
}

/**
 * One message as printed: its wire body on one line, or, pretty, a header and
 * one field a line. Tokens, payloads, signatures and the query values of
 * callback URLs are masked (core's `maskMessage`) unless `showSecrets`.
 */
export function formatMessage(
  message: Message,
  format: MessageFormat,
  style: Style,
  now = new Date(),
): string {
  const shown = format.showSecrets ? message : (maskMessage(message) as unknown as Message);
  if (!format.isPretty) return encodeMessage(shown);
  const age = now.getTime() - message.timestamp.getTime();
  const header = `${style.bold(message.kind)} ${KEY_OF_KIND[message.kind]} ${style.bold(routingKeyOf(message))} ${style.dim(`· ${message.timestamp.toISOString()} (made ${age} ms ago)`)}`;
  const lines = [header];
  const {
    kind: _kind,
    timestamp: _timestamp,
    ...fields
  } = shown as unknown as Record<string, unknown>;
  for (const [name, value] of flatten(fields))
    lines.push(`  ${style.dim(name.padEnd(28))} ${value}`);
  return lines.join('\n');
}

/** `{ pushToken: { accessToken } }` → `pushToken.accessToken`; dates as ISO strings. */
function* flatten(fields: Record<string, unknown>, prefix = ''): Generator<[string, string]> {
  for (const [name, value] of Object.entries(fields)) {
    if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      yield* flatten(value as Record<string, unknown>, `${prefix}${name}.`);
    } else {
      const shown =
        value instanceof Date
          ? value.toISOString()
          : typeof value === 'string'
            ? value
            : String(value);
      yield [`${prefix}${name}`, shown];
    }
  }
}
