import { type AMQSettings, AMQSettingsError, settingsFromEnv } from '@teal/amq-core';
import { CliError, EXIT } from './io';

/**
 * `AMQP_URL` and `AMQP_EXCHANGE_PREFIX` as every package reads them
 * (`settingsFromEnv`), the flags overriding them.
 */
export function brokerSettings(
  flags: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
): AMQSettings {
  const url = typeof flags['amqp-url'] === 'string' ? flags['amqp-url'] : undefined;
  const prefix =
    typeof flags['exchange-prefix'] === 'string' ? flags['exchange-prefix'] : undefined;
  const merged = {
    ...env,
    AMQP_URL: url ?? env.AMQP_URL,
    AMQP_EXCHANGE_PREFIX: prefix ?? env.AMQP_EXCHANGE_PREFIX,
  };
  try {
    return settingsFromEnv(merged);
  } catch (error) {
    if (error instanceof AMQSettingsError) {
      const where = url === undefined ? ' (or pass --amqp-url)' : ' (from --amqp-url)';
      throw new CliError(`${error.message}${where}`, EXIT.usage, { cause: error });
    }
    throw error;
  }
}
