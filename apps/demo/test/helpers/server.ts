import { Writable } from 'node:stream';
import type { AMQHandler } from '@teal/amq-core';
import { connect, silentLogger } from '@teal/amq-core';
import { Inbox, randomKey } from '@teal/amq-core/testing';
import type { FastifyInstance } from 'fastify';
import { type DemoConfig, readConfig } from '../../src/config';
import type { ServiceState } from '../../src/health';
import { createLogger } from '../../src/logging';
import { buildServer } from '../../src/server';

export interface TestDemo {
  readonly app: FastifyInstance;
  readonly config: DemoConfig;
  /** The demo's own handler. */
  readonly handler: AMQHandler;
  /** A second handler on the same in-process broker, for binding and sending around the demo. */
  readonly peer: AMQHandler;
  readonly inbox: Inbox;
  /** Every log line the demo wrote. */
  readonly logs: string[];
  close(): Promise<void>;
}

export interface TestDemoOptions {
  readonly env?: Record<string, string>;
  readonly argv?: readonly string[];
  readonly heartbeatMs?: number;
  /** Readiness checks and draining, to drive from the test. */
  readonly state?: ServiceState;
}

/** A demo on a private in-process broker, with a peer handler on the same broker. */
export async function startTestDemo(options: TestDemoOptions = {}): Promise<TestDemo> {
  const url = `memory://${randomKey('demo')}`;
  const config = readConfig(
    { AMQP_URL: url, DISPATCHER_PASSWORD: 'test-password', LOG_LEVEL: 'debug', ...options.env },
    options.argv ?? [],
  );
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = createLogger(config.logLevel, stream);
  const handler = await connect({ url, logger: silentLogger });
  const peer = await connect({ url, logger: silentLogger });
  const inbox = new Inbox(peer);
  const app = await buildServer({
    config,
    handler,
    logger,
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    ...(options.state === undefined ? {} : { state: options.state }),
  });
  await app.ready();
  return {
    app,
    config,
    handler,
    peer,
    inbox,
    logs,
    async close() {
      await app.close();
      await handler.close();
      await peer.close();
    },
  };
}

/** Listens on a free loopback port; returns the base URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `http://127.0.0.1:${address.port}`;
}
