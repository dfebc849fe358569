import { type AMQSettings, AMQSettingsError, parseSeedUrl } from '@teal/amq-core/adapter';

/**
 * Reads `AMQP_URL` (required) and `AMQP_EXCHANGE_PREFIX` (default empty), the
 * variables the Python original reads.
 */
export function settingsFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): AMQSettings {
  const url = env.AMQP_URL?.trim();
  if (!url) {
    throw new AMQSettingsError(
      'AMQP_URL',
      '[@teal/amq-core] AMQP_URL is not set: set it to the broker URL, for example memory:// or amqp://guest:guest@localhost:5672',
    );
  }
  parseSeedUrl(url, 'AMQP_URL');
  return { url, exchangePrefix: env.AMQP_EXCHANGE_PREFIX ?? '' };
}
