import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  connect as connectNats,
  headers,
  type MsgHdrs,
  type NatsConnection,
} from '@nats-io/transport-node';
import { type AMQHandler, EXCHANGE_NAMES, type HandlerOptions } from '@teal/amq-core';
import {
  type BrokerTarget,
  type ContractTarget,
  FaultProxy,
  type HostileFrame,
  Inbox,
  probeBroker,
  randomKey,
  transportOf,
} from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { MAX_PENDING_SETS } from '../../src/consumer-chunks';
import { connect, type NatsConnectOptions, type NatsMode } from '../../src/index';
import { encodeToken, Subjects } from '../../src/names';
import { CHUNK_HEADER, splitBody } from '../../src/publisher-chunks';
import { defaultStreamName } from '../../src/settings';
import type { NatsTransport } from '../../src/transport';
import type { JetStreamMode } from '../../src/transport-jetstream';
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

/** Options of a test's handler: the adapter's, a prefix required. */
export type TestHandlerOptions = Partial<NatsConnectOptions> & { exchangePrefix: string };

/**
 * Makes handlers of either mode on `url` for a test file (the shared server
 * by default), and closes them after each test.
 */
export function handlersOn(url = NATS_URL) {
  const durable = durableHandlers(url);
  const open: AMQHandler[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((handler) => handler.close()));
  });
  return async (mode: NatsMode, options: TestHandlerOptions): Promise<AMQHandler> => {
    const made = mode === 'core' ? await connect({ url, ...options }) : await durable(options);
    open.push(made);
    return made;
  };
}

/**
 * A `FaultProxy` in front of the shared server for a test file, forwarding
 * again after each test: `proxy()` once the file started.
 */
export function faultProxy(): () => FaultProxy {
  let proxy: FaultProxy | undefined;
  beforeAll(async () => {
    proxy = await FaultProxy.start(NATS_URL);
  });
  afterEach(() => proxy?.restore());
  afterAll(async () => {
    await proxy?.stop();
  });
  return () => proxy!;
}

/**
 * The fault cases' cast on a fresh prefix: a receiver on the shared server,
 * bound to key `k`, with its inbox, and a sender whose connection goes
 * through `proxy`.
 */
export async function receiverAndProxiedSender(
  handler: ReturnType<typeof handlersOn>,
  mode: NatsMode,
  proxy: FaultProxy,
  senderOptions: Partial<NatsConnectOptions> = {},
) {
  const prefix = `faults-${mode}-${randomKey('p')}.`;
  const receiver = await handler(mode, { exchangePrefix: prefix });
  const inbox = new Inbox(receiver);
  await receiver.bindCallbackState('k');
  const sender = await handler(mode, {
    exchangePrefix: prefix,
    url: proxy.urlFor(NATS_URL),
    ...senderOptions,
  });
  return { prefix, receiver, inbox, sender };
}

/** Sends a callback message with `url` on key `k`. */
export function sendTo(handler: AMQHandler, url: string): Promise<void> {
  return handler.send(callbackMessage({ url, state: 'k' }));
}

/** The URLs an inbox received, in order. */
export function urlsOf(inbox: Inbox): string[] {
  return inbox.messages.map((message) => (message.kind === 'callback' ? message.url : ''));
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

export function subjectOf(target: BrokerTarget): string {
  return new Subjects('teal', target.exchangePrefix).of(target.exchange, target.routingKey);
}

function chunkHeader(value: string): MsgHdrs {
  const hdrs = headers();
  hdrs.set(CHUNK_HEADER, value);
  return hdrs;
}

/** A `traceparent` header of `value`, as a forger would write one. */
function traceHeaders(value: string): MsgHdrs {
  const hdrs = headers();
  hdrs.set('traceparent', value);
  return hdrs;
}

type Publish = ReturnType<typeof rawClient>['publish'];

/** Forged and absurd NATS frames of the adapter's own format; `jetstream` adds the stream-only ones. */
export function hostileFrames(publish: Publish, isJetStream: boolean): HostileFrame[] {
  const frame = (name: string, send: HostileFrame['publish']): HostileFrame => ({
    name,
    publish: send,
  });
  const secretBytes = (secret: string, size = secret.length) =>
    utf8.encode(secret.padEnd(size, '#'));
  const frames = [
    frame('a chunk header announcing 10^11 chunks (x 0 99999999999 10)', (target, secret) =>
      publish(target, secretBytes(secret), chunkHeader('x 0 99999999999 10')),
    ),
    frame('a chunk header announcing more chunks than its total can fill', (target, secret) =>
      publish(target, secretBytes(secret), chunkHeader('x 0 5000 10')),
    ),
    frame('a chunk header whose index is past its count', (target, secret) =>
      publish(target, secretBytes(secret, 1024), chunkHeader('x 3 3 3000')),
    ),
    frame('a chunk header announcing 1 TB', (target, secret) =>
      publish(target, secretBytes(secret, 1024), chunkHeader('x 0 1000000000 1000000000000')),
    ),
    frame('a chunk header of junk holding the secret', (target, secret) =>
      publish(target, secretBytes(secret), chunkHeader(`${secret} zero two`)),
    ),
    frame('a chunk header of 60,000 characters', (target, secret) =>
      publish(target, secretBytes(secret), chunkHeader(`${secret} 0 2 ${'9'.repeat(60_000)}`)),
    ),
    frame('chunks whose sizes do not add up', async (target, secret) => {
      await publish(target, secretBytes(secret, 1024), chunkHeader('uneven 0 3 3000'));
      await publish(target, secretBytes(secret), chunkHeader('uneven 1 3 3000'));
    }),
    frame(`${MAX_PENDING_SETS + 1} chunk sets that never complete`, async (target, secret) => {
      for (let set = 0; set <= MAX_PENDING_SETS; set++) {
        await publish(target, secretBytes(secret, 1024), chunkHeader(`never${set} 0 3 3000`));
      }
    }),
    frame('a header of 60,000 characters on a garbage body', (target, secret) => {
      const hdrs = headers();
      hdrs.set('X-Teal-Junk', secret.repeat(Math.ceil(60_000 / secret.length)));
      return publish(target, secretBytes(secret), hdrs);
    }),
    frame('a forged traceparent of 60,000 characters holding the secret', (target, secret) =>
      publish(target, secretBytes(secret), traceHeaders(secret.padEnd(60_000, '0'))),
    ),
    frame('1,000 forged trace headers holding the secret', (target, secret) => {
      const hdrs = traceHeaders(secret);
      for (let i = 0; i < 1_000; i++) hdrs.set(`tracestate-${i}`, `${secret}=${i}`);
      return publish(target, secretBytes(secret), hdrs);
    }),
    frame(
      'a chunk set whose first chunk forges trace headers of 60,000 characters',
      async (target, secret) => {
        const first = chunkHeader('traced 0 2 2048');
        first.set('traceparent', secret);
        first.set('tracestate', secret.padEnd(60_000, '0'));
        await publish(target, secretBytes(secret, 1024), first);
        await publish(target, secretBytes(secret, 1024), chunkHeader('traced 1 2 2048'));
      },
    ),
  ];
  if (!isJetStream) return frames;
  return [
    ...frames,
    // Core subscriptions are literal subjects: only an exchange's consumer can receive these.
    frame('a message on a subject of the exchange that decodes to no key', (target, secret) =>
      publish(target, secretBytes(secret), undefined, `${subjectOf(target)}.more`),
    ),
    frame('a message on an escape no key makes (_2D)', (target, secret) =>
      publish(
        target,
        secretBytes(secret),
        undefined,
        `${new Subjects('teal', target.exchangePrefix).exchangeStem(target.exchange)}_2D`,
      ),
    ),
    frame(
      'a stored message forging a flow-control status and a stalled consumer',
      (target, secret) => {
        const hdrs = headers(100, 'FlowControl Request');
        hdrs.set('Nats-Consumer-Stalled', `_INBOX.${secret}`);
        hdrs.set('Nats-Last-Consumer', '99999999');
        return publish(target, secretBytes(secret), hdrs);
      },
    ),
  ];
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
