import type { MessageKind } from '@teal/messages';
import { usageError } from './io';

/** The names a kind is typed as on the command line: short, or as the library spells it. */
export const KIND_NAMES: Readonly<Record<string, MessageKind>> = {
  callback: 'callback',
  ciba: 'openid_ciba_callback',
  openid_ciba_callback: 'openid_ciba_callback',
  powens: 'powens_webhook',
  powens_webhook: 'powens_webhook',
};

/** The short name of each kind, as `--help` and completions offer them. */
export const SHORT_KIND_NAMES = ['callback', 'ciba', 'powens'] as const;

/** What the routing key of each kind is, for messages that name it. */
export const KEY_OF_KIND: Readonly<Record<MessageKind, string>> = {
  callback: 'state',
  openid_ciba_callback: 'request id',
  powens_webhook: 'domain',
};

/** A kind typed on the command line, or a usage error listing the names. */
export function parseKind(value: string | undefined, command: string): MessageKind {
  if (value === undefined) {
    throw usageError(`which kind? give one of ${SHORT_KIND_NAMES.join(', ')}`, command);
  }
  const kind = Object.hasOwn(KIND_NAMES, value) ? KIND_NAMES[value] : undefined;
  if (kind === undefined) {
    throw usageError(
      `unknown kind ${JSON.stringify(value.slice(0, 40))}: use ${SHORT_KIND_NAMES.join(', ')} (or ${Object.values(
        KIND_NAMES,
      )
        .filter((name, i, all) => all.indexOf(name) === i)
        .join(', ')})`,
      command,
    );
  }
  return kind;
}
