import type { BrokerTarget, HostileFrame } from '@teal/amq-core/testing';
import { connect as amqpConnect, type ChannelModel, type Options } from 'amqplib';
import { flatHeaders, nestedHeaders, publishRaw, type RawProperties } from './raw-publisher';

/**
 * Publishes at broker level, as any other client of the vhost could, on one
 * confirm channel shared by the calls of a test file (each awaits its
 * confirm: the frame is in the queues before the call resolves).
 */
export class BrokerPublisher {
  readonly #url: string;
  #model: Promise<ChannelModel> | null = null;

  constructor(url: string) {
    this.#url = url;
  }

  async publish(target: BrokerTarget, body: string | Uint8Array, options?: Options.Publish) {
    this.#model ??= amqpConnect(this.#url).then((model) => {
      model.on('error', () => {});
      return model;
    });
    const model = await this.#model;
    const channel = await model.createConfirmChannel();
    try {
      channel.publish(
        target.exchangePrefix + target.exchange,
        target.routingKey,
        typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body),
        options,
      );
      await channel.waitForConfirms();
    } finally {
      await channel.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    const model = this.#model;
    this.#model = null;
    if (model !== null) await (await model).close().catch(() => {});
  }
}

/** A body no TeaL message is made of, carrying the secret. */
function garbage(secret: string): string {
  return JSON.stringify({ state: secret, url: 5 });
}

/**
 * RabbitMQ-specific hostile frames: forged or absurd properties on the
 * handler's own exchange and key, each with a body that is not a message.
 */
export function hostileFrames(url: string, publisher: BrokerPublisher): HostileFrame[] {
  const publish = (target: BrokerTarget, body: string | Buffer, options: Options.Publish) =>
    publisher.publish(target, body, options);
  /** On a bare socket, with properties no client library writes, and a body that is not a message. */
  const publishBare = (target: BrokerTarget, properties: RawProperties, secret: string) =>
    publishRaw(
      url,
      { exchange: target.exchangePrefix + target.exchange, routingKey: target.routingKey },
      properties,
      Buffer.from(garbage(secret)),
    );
  return [
    {
      name: "a header table nested 10,000 deep (past amqplib's recursive decoder)",
      publish: (target, secret) => publishBare(target, nestedHeaders(10_000, secret), secret),
    },
    {
      name: 'a header table of 6,000 entries (96 KiB, past what amqplib encodes)',
      publish: (target, secret) =>
        publishBare(
          target,
          flatHeaders(
            Array.from({ length: 6_000 }, (_, i) => [`h${i}`, i === 0 ? secret : `${i}`]),
          ),
          secret,
        ),
    },
    {
      name: 'a header value of 100 KiB',
      publish: (target, secret) =>
        publishBare(target, flatHeaders([['x-big', `${'v'.repeat(100 * 1024)}${secret}`]]), secret),
    },
    {
      name: 'headers of every AMQP field type (decimal, timestamp, void, byte array, nested arrays)',
      publish: (target, secret) =>
        publish(target, garbage(secret), {
          headers: {
            decimal: { '!': 'decimal', value: { places: 255, digits: 4_294_967_295 } },
            timestamp: { '!': 'timestamp', value: Number.MAX_SAFE_INTEGER },
            void: null,
            bytes: Buffer.from(secret),
            nested: [[[[secret, -1, 1.5, true]]]],
            big: { '!': 'long', value: Number.MAX_SAFE_INTEGER },
          },
        }),
    },
    {
      name: 'content-type and content-encoding claims the body does not meet (gzip, text/html, UTF-16)',
      publish: (target, secret) =>
        publish(target, Buffer.from(garbage(secret), 'utf16le'), {
          contentType: 'text/html; charset=utf-16',
          contentEncoding: 'gzip',
        }),
    },
    {
      name: 'absurd basic properties (priority 255, a timestamp past 2^53, a forged message id of the adapter)',
      publish: (target, secret) =>
        publish(target, garbage(secret), {
          priority: 255,
          timestamp: 2 ** 62,
          messageId: 'teal.0',
          correlationId: secret,
          type: 'x'.repeat(255),
          appId: '\u0000\uffff',
          expiration: '86400000',
        }),
    },
    {
      name: 'a body of 10 MiB that is not UTF-8',
      publish: (target, secret) => {
        const body = Buffer.alloc(10 * 1024 * 1024, 0xff);
        Buffer.from(secret).copy(body, 1024);
        return publish(target, body, { contentType: 'application/json' });
      },
    },
  ];
}
