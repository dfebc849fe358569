import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Frames written and parsed by the Python dispatcher's pydantic models. */
export interface DispatcherVectors {
  readonly client_valid: readonly { readonly frame: string; readonly parsed: unknown }[];
  readonly client_invalid: readonly string[];
  readonly server: readonly {
    readonly message_exchange: string;
    readonly message_body: string;
    readonly frame: string;
  }[];
  readonly creation_failure_example: string;
}

export const dispatcherVectors = JSON.parse(
  readFileSync(
    fileURLToPath(new URL('../../../../../shared/vectors/dispatcher.json', import.meta.url)),
    'utf8',
  ),
) as DispatcherVectors;

export const KIND_OF_EXCHANGE: Readonly<Record<string, string>> = {
  callbacks: 'callback',
  openid_ciba_callbacks: 'openid_ciba_callback',
  powens_domain_webhooks: 'powens_webhook',
};

/** The members of a JSON value in order, at every level. */
export function memberOrder(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return null;
  return Object.entries(value).map(([key, inner]) => [key, memberOrder(inner)]);
}
