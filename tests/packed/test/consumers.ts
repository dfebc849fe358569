/** The files a consumer project of the packed packages runs and type-checks. */

const ROUND_TRIP = `
const url = process.env.AMQP_URL;
const tag = process.env.TEAL_TAG;
(async () => {
  // A fixed prefix: the exchanges it declares are reused across runs instead of piling up.
  const handler = await connect({ url, exchangePrefix: 'teal-packed-test.' });
  const kinds = [];
  const all = new Promise((resolve) => {
    handler.callback = (message) => {
      kinds.push(message.kind);
      if (kinds.length === 3) resolve();
    };
  });
  await handler.bindCallbackState('state-' + tag);
  await handler.bindOpenIDCIBARequestIdentifier('request-' + tag);
  await handler.bindPowensDomainWebhooks(tag + '.biapi.pro');
  await handler.send(callbackMessage({ url: 'https://app.test/callback?state=state-' + tag, state: 'state-' + tag }));
  await handler.send(openIDCIBACallbackMessage({ requestId: 'request-' + tag, accessToken: 'token' }));
  await handler.send(powensWebhookMessage({ domain: tag + '.biapi.pro', event: 'USER_CREATED', userToken: 'u', payload: '{}' }));
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out, got ' + kinds)), 20000);
  });
  await Promise.race([all, timeout]);
  clearTimeout(timer);
  await handler.close();
  console.log(JSON.stringify({ kinds: kinds.sort() }));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

export const ESM_SCRIPT = `import { connect } from '@teal/amq-core';
import { callbackMessage, openIDCIBACallbackMessage, powensWebhookMessage } from '@teal/messages';
${ROUND_TRIP}`;

export const CJS_SCRIPT = `const { connect } = require('@teal/amq-core');
const { callbackMessage, openIDCIBACallbackMessage, powensWebhookMessage } = require('@teal/messages');
${ROUND_TRIP}`;

/**
 * A CommonJS application: core's CommonJS build loads the adapter with
 * `import()`, so the adapter's errors come from core's ES module build — and
 * must still be \`instanceof\` the classes the application required.
 */
export const CJS_INSTANCEOF_SCRIPT = `const { connect, AMQError } = require('@teal/amq-core');
(async () => {
  try {
    await connect({ url: process.env.UNREACHABLE_URL, sendTimeoutMs: 3000 });
    console.log(JSON.stringify({ error: null }));
  } catch (error) {
    console.log(JSON.stringify({
      name: error.name,
      isAMQError: error instanceof AMQError,
      // The prototype chain alone says whether it came from another copy of core.
      isFromOtherCopy: !AMQError.prototype.isPrototypeOf(error),
    }));
  }
})();
`;

/** What a project with only core asks for when it wants RabbitMQ. */
export const MISSING_ADAPTER_SCRIPT = `import { connect } from '@teal/amq-core';
try {
  await connect({ url: 'amqp://guest:guest@127.0.0.1:5672' });
  console.log(JSON.stringify({ error: null }));
} catch (error) {
  console.log(JSON.stringify({ error: error.name + ': ' + error.message }));
}
`;

/** A TypeScript consumer, type-checked against the shipped declarations (ESM and CJS). */
export function typedConsumer(adapter: string | null): string {
  return `import { type AMQHandler, type ConnectOptions, connect, settingsFromEnv, AMQClosedError } from '@teal/amq-core';
import { callbackMessage, decodeMessage, encodeMessage, type Message, verifyPowensWebhook } from '@teal/messages';
${adapter === null ? '' : `import { connect as connectAdapter } from '${adapter}';`}

export async function main(): Promise<string> {
  const options: ConnectOptions = { ...settingsFromEnv({ AMQP_URL: 'memory://' }), concurrency: 1 };
  const handler: AMQHandler = await ${adapter === null ? 'connect' : 'connectAdapter'}(options);
  handler.callback = async (message: Message) => {
    if (message.kind === 'powens_webhook') {
      const result = await verifyPowensWebhook(message, 'secret', { maxAgeMs: 60_000 });
      if (!result.ok) return result.reason;
    }
    return message.kind === 'callback' ? message.state.length : message.timestamp.getTime();
  };
  const wire: string = encodeMessage(callbackMessage({ url: 'https://app.test/cb', state: 's' }));
  const decoded = decodeMessage('callback', wire);
  const waited = handler.waitFor('callback', 's', { timeoutMs: 1_000 });
  const subscription = handler.subscribe('powens_webhook', 'd.biapi.pro', { highWaterMark: 10 });
  await subscription.bound;
  handler.on('disconnected', (error: unknown) => void error);
  await handler.send(decoded, { signal: AbortSignal.timeout(5_000) });
  const first: string = (await waited).state;
  await subscription.return();
  await handler.bind('openid_ciba_callback', 'r');
  // @ts-expect-error a callback message needs its state
  callbackMessage({ url: 'https://app.test/cb' });
  await handler.close({ drainTimeoutMs: 1_000 });
  await connect({ url: 'memory://' }).then((other) => other.close());
  return first + decoded.state + String(new AMQClosedError('closed') instanceof Error);
}
`;
}
