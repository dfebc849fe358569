import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect as connectNats, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { type AMQHandler, EXCHANGE_NAMES, type HandlerOptions } from '@teal/amq-core';
import {
  type BrokerTarget,
  type ContractTarget,
  probeBroker,
  randomKey,
  transportOf,
} from '@teal/amq-core/testing';
import { afterAll } from 'vitest';
import { connect, type NatsConnectOptions } from '../../src/index';
import { encodeToken, Subjects } from '../../src/names';
import { splitBody } from '../../src/publisher-chunks';
import { defaultStreamName } from '../../src/settings';
import type { NatsTransport } from '../../src/transport';
import type { JetStreamMode } from '../../src/transport-jetstream';
import { hostileFrames, subjectOf } from './broker-frames';
import { PrivateServer, privateServerUnavailable } from './server';

/** The shared server, found as users find it. */
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

const utf8 = new TextEncoder();

/**
 * The core-mode contract target. Core mode keeps its bindings as the server's
 * subscriptions, which only the monitoring endpoint lists, and the shared
 * server runs without one: so this target runs on a private nats-server (the
 * same binary, default settings, monitoring on), stopped after the file.
 */
export async function coreTarget(): Promise<ContractTarget> {
  const unavailable = privateServerUnavailable();
  if (unavailable !== null) return { name: 'nats', unavailable, createHandler: connectNowhere };
  const server = await PrivateServer.start('', { monitoring: true });
  afterAll(() => server.stop());
  /** Each handler's connection name and prefix: how the monitoring view finds it. */
  const connections = new WeakMap<AMQHandler, { name: string; exchangePrefix: string }>();
  const raw = rawClient(server.url, 'core');
  return {
    name: 'nats',
    unavailable: null,
    url: server.url,
    createHandler: async (options) => {
      const name = `teal-test-${randomKey('conn')}`;
      const handler = await connect({ url: server.url, ...options, connectionOptions: { name } });
      connections.set(handler, { name, exchangePrefix: options.exchangePrefix });
      return handler;
    },
    capabilities: {
      dropConnection,
      brokerResources: async (handler) => {
        const { name, exchangePrefix } = connections.get(handler)!;
        return subscriptionsOnServer(server.monitorUrl!, name, exchangePrefix);
      },
      publishAtBroker: raw.publishAtBroker,
      hostileFrames: hostileFrames(raw.publish, false),
    },
  };
}

/** The JetStream-mode contract target, on the shared server. */
export async function durableTarget(): Promise<ContractTarget> {
  const raw = rawClient(NATS_URL, 'jetstream');
  return {
    name: 'nats (durable)',
    unavailable: await probeBroker(NATS_URL),
    url: NATS_URL,
    // Sets mode in code: a proxied url without the query keeps it.
    createHandler: durableHandlers(NATS_URL),
    capabilities: {
      dropConnection,
      deliversAcrossReconnect: true,
      brokerResources: (handler) => consumersOnServer(NATS_URL, handler),
      publishAtBroker: raw.publishAtBroker,
      hostileFrames: hostileFrames(raw.publish, true),
    },
  };
}

/**
 * Destroys the handler's socket (nats.js reconnect()): the server drops its
 * subscriptions, and the client must reconnect and restore them through its
 * own reconnect path.
 */
function dropConnection(handler: AMQHandler): Promise<void> {
  return transportOf<NatsTransport>(handler).dropConnection();
}

function connectNowhere(_options: HandlerOptions): Promise<AMQHandler> {
  return Promise.reject(new Error('no nats-server to connect to'));
}

/**
 * Connects JetStream-mode handlers and deletes their prefixes' streams after
 * the file (each test's random prefix has a stream, which reserves server
 * storage), plus test streams a crashed run left over an hour ago.
 */
export function durableHandlers(url: string, extra: Partial<NatsConnectOptions> = {}) {
  const prefixes = new Set<string>();
  afterAll(async () => {
    await deleteStreams(
      url,
      (name, created) =>
        [...prefixes].some((prefix) => name === defaultStreamName(encodeToken(prefix))) ||
        (name.startsWith('TEAL_teal-test-') && Date.now() - created.getTime() > 3_600_000),
    );
  });
  return (
    options: Partial<NatsConnectOptions> & { exchangePrefix: string },
  ): Promise<AMQHandler> => {
    prefixes.add(options.exchangePrefix);
    return connect({
      url,
      mode: 'jetstream',
      streamMaxBytes: 64 * 1024 * 1024,
      ...extra,
      ...options,
    });
  };
}

export async function deleteStreams(
  url: string,
  matches: (name: string, created: Date) => boolean,
): Promise<void> {
  if ((await probeBroker(url)) !== null) return;
  const nc = await connectNats({ servers: new URL(url).host });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const info of jsm.streams.list()) {
      if (matches(info.config.name, new Date(info.created)))
        await jsm.streams.delete(info.config.name);
    }
  } finally {
    await nc.close();
  }
}

/**
 * A plain NATS client of the test file's own on `url`, as any other publisher
 * on the server would be: what the contract's raw frames go through. Closed
 * after the file.
 */
export function rawClient(url: string, mode: 'core' | 'jetstream') {
  let connecting: Promise<NatsConnection> | undefined;
  const connection = () => {
    connecting ??= connectNats({ servers: new URL(url).host, name: 'teal-test-raw' });
    return connecting;
  };
  afterAll(async () => {
    if (connecting !== undefined) await (await connecting).close();
  });

  /** Publishes on the target's subject (or `subject`); resolves once the server has it (stored, for JetStream). */
  const publish = async (
    target: BrokerTarget,
    data: Uint8Array,
    hdrs?: MsgHdrs,
    subject = subjectOf(target),
  ): Promise<void> => {
    const nc = await connection();
    if (mode === 'jetstream') {
      await jetstream(nc).publish(subject, data, hdrs ? { headers: hdrs } : {});
    } else {
      nc.publish(subject, data, hdrs ? { headers: hdrs } : undefined);
      await nc.flush();
    }
  };

  /**
   * `capabilities.publishAtBroker`: the body as it is, no header. A body over
   * the server's `max_payload` cannot travel as one NATS message — the server
   * refuses it and closes the publisher's connection — so it goes in chunks of
   * the adapter's format, as a sender of ours would send it: the receiver
   * reassembles it, and the codec refuses it.
   */
  const publishAtBroker = async (target: BrokerTarget, body: string | Uint8Array) => {
    const bytes = typeof body === 'string' ? utf8.encode(body) : body;
    const nc = await connection();
    const limit = nc.info?.max_payload ?? 1024 * 1024;
    for (const part of splitBody(bytes, limit, 64 * 1024 * 1024)) {
      await publish(target, part.data, part.headers);
    }
  };

  return { publish, publishAtBroker };
}

/** A handler's consumers as the JetStream API lists them: `consumer <stream> <name>`. */
export async function consumersOnServer(url: string, handler: AMQHandler): Promise<string[]> {
  const transport = transportOf<NatsTransport>(handler).mode as JetStreamMode;
  const nc = await connectNats({ servers: new URL(url).host, name: 'teal-test-admin' });
  try {
    const jsm = await jetstreamManager(nc);
    const lines: string[] = [];
    for await (const info of jsm.consumers.list(transport.stream.name)) {
      if (info.name.startsWith(transport.consumerPrefix)) {
        lines.push(`consumer ${transport.stream.name} ${info.name}`);
      }
    }
    return lines.sort();
  } catch (error) {
    // A stream deleted meanwhile holds no consumer.
    if ((error as { code?: unknown }).code === 10059) return [];
    throw error;
  } finally {
    await nc.close();
  }
}

interface Connz {
  connections?: Array<{ name?: string; subscriptions_list?: string[] }>;
}

/**
 * The subscriptions of the connections named `name`, as the server's
 * monitoring endpoint lists them (`/connz?subs=1`): `binding <exchange> <key>`
 * for a subject of the prefix, `subscription <subject>` for any other. By
 * name, not by client id: a connection the handler left behind would show.
 */
export async function subscriptionsOnServer(
  monitorUrl: string,
  name: string,
  exchangePrefix: string,
): Promise<string[]> {
  const response = await fetch(`${monitorUrl}/connz?subs=1&limit=100000`);
  const connz = (await response.json()) as Connz;
  const subjects = new Subjects('teal', exchangePrefix);
  const lines: string[] = [];
  for (const connection of connz.connections ?? []) {
    if (connection.name !== name) continue;
    for (const subject of connection.subscriptions_list ?? []) {
      const exchange = EXCHANGE_NAMES.find((each) => subjects.keyOf(each, subject) !== undefined);
      lines.push(
        exchange === undefined
          ? `subscription ${subject}`
          : `binding ${exchange} ${subjects.keyOf(exchange, subject)}`,
      );
    }
  }
  return lines.sort();
}
