import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  connect as connectNats,
  headers,
  type MsgHdrs,
  type NatsConnection,
} from '@nats-io/transport-node';
import { type AMQHandler, EXCHANGE_NAMES } from '@teal/amq-core';
import { type BrokerTarget, type HostileFrame, transportOf } from '@teal/amq-core/testing';
import { afterAll } from 'vitest';
import { MAX_PENDING_SETS } from '../../src/consumer-chunks';
import { Subjects } from '../../src/names';
import { CHUNK_HEADER, splitBody } from '../../src/publisher-chunks';
import type { JetStreamTransport } from '../../src/transport-jetstream';

const utf8 = new TextEncoder();

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
  const transport = transportOf<JetStreamTransport>(handler);
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
