import type { AMQHandler } from '@teal/amq-core';
import { connect, redactUrl } from '@teal/amq-core';
import type { FastifyInstance } from 'fastify';
import { startBanner } from './banner';
import { type DemoConfig, DemoConfigError, readConfig } from './config';
import { amqLoggerOf, createLogger } from './logging';
import { openStateStore, type StateStore } from './states/index';
import { startTelemetry, type Telemetry } from './telemetry/index';

let config: DemoConfig;
let telemetry: Telemetry | null;
try {
  config = readConfig(process.env, process.argv.slice(2));
  // Before Fastify loads, so that the HTTP instrumentation sees its server.
  telemetry = await startTelemetry(process.env, config.role);
} catch (error) {
  if (!(error instanceof DemoConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}
const { buildServer } = await import('./server');

const log = createLogger(config.logLevel, undefined, telemetry?.logFields);
let handler: AMQHandler | null = null;
let states: StateStore | null = null;
let app: FastifyInstance | null = null;
let stopping: Promise<void> | null = null;

/**
 * Closes the server, then drains the handler (what it already received reaches
 * the sockets still open, for at most DRAIN_TIMEOUT_MS), then exits.
 */
function stop(code: number): Promise<void> {
  stopping ??= (async () => {
    try {
      await app?.close();
      await handler?.close({ drainTimeoutMs: config.drainTimeoutMs });
      await states?.close();
      await telemetry?.shutdown();
    } catch (error) {
      log.error({ err: error }, 'stopping failed');
      code = 1;
    }
    process.exit(code);
  })();
  return stopping;
}

// Installed first, so that a signal during start-up stops the service too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log.info({ signal }, 'stopping');
    void stop(0);
  });
}

try {
  handler = await connect({
    url: config.amqpUrl,
    exchangePrefix: config.exchangePrefix,
    logger: amqLoggerOf(log),
    onError: (error, context) => log.error({ err: error, ...context }, 'broker error'),
  });
} catch (error) {
  console.error(
    `[@teal/demo] cannot connect to ${redactUrl(config.amqpUrl)} (AMQP_URL): ${(error as Error).message}`,
  );
  await stop(1);
}

if (stopping === null) {
  try {
    states = await openStateStore(config.stateStoreUrl);
    // Checked at start: a wrong URL or an unreachable store stops the service with its reason.
    await states.ping();
  } catch (error) {
    console.error(
      `[@teal/demo] cannot use the state store ${redactUrl(config.stateStoreUrl)} (STATE_STORE_URL): ${(error as Error).message}`,
    );
    await stop(1);
  }
}

if (stopping === null && handler !== null && states !== null) {
  try {
    app = await buildServer({ config, handler, states, logger: log, telemetry });
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    console.error(
      `[@teal/demo] cannot start on ${config.host}:${config.port} (HOST, PORT): ${(error as Error).message}`,
    );
    await stop(1);
  }
}

if (stopping === null && app !== null) {
  const address = app.server.address();
  console.log(
    startBanner(
      config,
      typeof address === 'object' && address !== null ? address.port : config.port,
    ),
  );
}
