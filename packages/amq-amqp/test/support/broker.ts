import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type AMQHandler, EXCHANGE_NAMES, redactUrl } from '@teal/amq-core';
import {
  type AdapterCapabilities,
  randomPrefix,
  transportOf,
  waitFor,
} from '@teal/amq-core/testing';
import { connect as amqpConnect, type ChannelModel } from 'amqplib';
import { afterEach } from 'vitest';
import { type AmqpConnectOptions, connect } from '../../src/index';
import type { AmqpTransport } from '../../src/transport';
import { BrokerPublisher, hostileFrames } from './hostile-frames';
import { brokerResources } from './rabbitmqctl';

/** The broker under test: `AMQP_URL`, or a local RabbitMQ. */
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

const run = promisify(execFile);

/** Why RabbitMQ cannot be used here (an AMQP handshake fails), or `null`. */
export async function probeRabbit(url = AMQP_URL): Promise<string | null> {
  try {
    const model = await amqpConnect(url, { timeout: 3_000 });
    await model.close();
    return null;
  } catch (error) {
    return `RabbitMQ does not answer at ${redactUrl(url)} (${String(error)})`;
  }
}

/**
 * What the contract suite gets to reach RabbitMQ behind the adapter's back;
 * `close()` ends the connection its broker-level publishes share.
 */
export function brokerCapabilities(): AdapterCapabilities & { close(): Promise<void> } {
  const publisher = new BrokerPublisher(AMQP_URL);
  return {
    // Broker-side: `rabbitmqctl` closes the handler's connection, found by its name.
    dropConnection,
    deliversAcrossReconnect: true,
    // RabbitMQ's own listing of queues, consumers and bindings (rabbitmqctl).
    brokerResources: (handler) => brokerResources(handler),
    publishAtBroker: (target, body) => publisher.publish(target, body),
    hostileFrames: hostileFrames(AMQP_URL, publisher),
    close: () => publisher.close(),
  };
}

/** A fresh exchange prefix whose exchanges `cleanups` deletes. */
export function isolatedPrefix(cleanups: (() => Promise<unknown>)[]): string {
  const prefix = randomPrefix();
  cleanups.push(() => deleteExchanges([prefix]));
  return prefix;
}

/**
 * A raw amqplib connection, for what a test does behind the adapter's back;
 * with `cleanups`, closed after the test.
 */
export async function rawConnection(
  cleanups?: Array<() => Promise<unknown>>,
  url = AMQP_URL,
): Promise<ChannelModel> {
  const model = await amqpConnect(url);
  model.on('error', () => {});
  cleanups?.push(() => model.close());
  return model;
}

/** Deletes the exchanges of these prefixes (non-durable, but they would last until a broker restart). */
export async function deleteExchanges(prefixes: Iterable<string>, url = AMQP_URL): Promise<void> {
  const list = [...prefixes];
  if (list.length === 0) return;
  const model = await rawConnection(undefined, url);
  try {
    const channel = await model.createChannel();
    for (const prefix of list) {
      for (const name of EXCHANGE_NAMES) await channel.deleteExchange(prefix + name);
    }
  } finally {
    await model.close();
  }
}

/**
 * Closes the handler's connection from RabbitMQ's side (`rabbitmqctl`), as a
 * broker restart or a network failure would; where `rabbitmqctl` cannot reach
 * the broker, destroys the socket instead. Resolves once the handler saw it
 * (it may have reconnected already).
 */
export async function dropConnection(handler: AMQHandler): Promise<void> {
  const transport = transportOf<AmqpTransport>(handler);
  const lostBefore = transport.lostConnections;
  const bytes = [...Buffer.from(transport.settings.connectionName, 'utf8')].join(',');
  const expression =
    `Name = list_to_binary([${bytes}]), length([ok || P <- rabbit_networking:connections(), ` +
    '{_, _, N} <- [catch lists:keyfind(<<"connection_name">>, 1, element(2, hd(' +
    'rabbit_networking:connection_info(P, [client_properties]))))], N =:= Name, ' +
    'ok =:= (catch rabbit_networking:close_connection(P, "dropped by a TeaL test"))]).';
  let closed = 0;
  try {
    const { stdout } = await run('rabbitmqctl', ['eval', expression], { timeout: 20_000 });
    closed = Number.parseInt(stdout.trim(), 10) || 0;
  } catch {
    closed = 0;
  }
  if (closed === 0) transport.destroySocket();
  // Not `!isConnected`: the handler may well be back before a poll sees it gone.
  await waitFor(
    () => transport.lostConnections > lostBefore,
    'the handler to notice the dropped connection',
    10_000,
  );
}

/**
 * Makes handlers on `AMQP_URL` (unless the options name another `url`) with
 * these defaults, each closed by `cleanups` after its test.
 */
export function handlerMaker(
  cleanups: Array<() => Promise<unknown>>,
  defaults: Partial<AmqpConnectOptions> = {},
): (options: Partial<AmqpConnectOptions> & { exchangePrefix: string }) => Promise<AMQHandler> {
  return async (options) => {
    const created = await connect({ url: AMQP_URL, ...defaults, ...options });
    cleanups.push(() => created.close());
    return created;
  };
}

/** Clean-ups a test registers; they run after each test, last first, failures ignored. */
export function cleanupsAfterEach(): Array<() => Promise<unknown>> {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });
  return cleanups;
}
