import { headers, type MsgHdrs } from '@nats-io/transport-node';
import type { BrokerTarget, HostileFrame } from '@teal/amq-core/testing';
import { MAX_PENDING_SETS } from '../../src/consumer-chunks';
import { Subjects } from '../../src/names';
import { CHUNK_HEADER } from '../../src/publisher-chunks';
import type { rawClient } from './broker';

const utf8 = new TextEncoder();

/** The subject a contract target's key travels on, with the default subject root. */
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
