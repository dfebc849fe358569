import type { AMQHandler } from '@teal/amq-core';
import { connect, redactUrl } from '@teal/amq-core';
import type { FastifyInstance } from 'fastify';
import { startBanner } from './banner';
import { type DemoConfig, DemoConfigError, readConfig } from './config';
import { ServiceState } from './health';
import { amqLoggerOf, createLogger } from './logging';
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
const state = new ServiceState();
let handler: AMQHandler | null = null;
let app: FastifyInstance | null = null;
let stopping: Promise<void> | null = null;

/**
 * Drains, then exits: `/readyz` turns 503 and new WebSockets and listener
 * requests are refused; the handler hands what it already received to the
 * sockets still open (for at most DRAIN_TIMEOUT_MS); then the sockets and
 * the server close. Past SHUTDOWN_TIMEOUT_MS the process exits anyway, with 1.
 */
function stop(code: number): Promise<void> {
  stopping ??= (async () => {
    const deadline = setTimeout(() => {
      log.error({ shutdownTimeoutMs: config.shutdownTimeoutMs }, 'stopping took too long: exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    state.startDraining();
    try {
      await handler?.close({ drainTimeoutMs: config.drainTimeoutMs });
      await app?.close();
      await telemetry?.shutdown();
    } catch (error) {
      log.error({ err: error }, 'stopping failed');
      code = 1;
    }
    log.info({ code }, 'stopped');
    process.exit(code);
  })();
  return stopping;
}

// Installed first, so that a signal during start-up stops the service too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log.info({ signal }, 'stopping: draining');
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
  log.fatal(
    { broker: redactUrl(config.amqpUrl) },
    `cannot connect to the broker (AMQP_URL): ${(error as Error).message}`,
  );
  await stop(1);
}

if (stopping === null && handler !== null) {
  try {
    app = await buildServer({ config, handler, logger: log, telemetry, state });
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    log.fatal(
      { host: config.host, port: config.port },
      `cannot start (HOST, PORT): ${(error as Error).message}`,
    );
    await stop(1);
  }
}

if (stopping === null && app !== null) {
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  // The banner is for a person: once, on stderr; stdout carries JSON lines only.
  console.error(startBanner(config, port));
  log.info({ role: config.role, broker: redactUrl(config.amqpUrl), port }, 'listening');
}
