import amqplib from 'amqplib';
import { type BenchPeer, EXCHANGE_OF, type PeerFactory, rawCodec, route } from '../peer';

/** amqplib alone: a confirm channel publishing, a server-named queue consumed with acks. */
export function rawAmqp(url: string): PeerFactory {
  return async (prefix) => {
    const connection = await amqplib.connect(url, { noDelay: true });
    const channel = await connection.createConfirmChannel();
    for (const exchange of Object.values(EXCHANGE_OF)) {
      await channel.assertExchange(prefix + exchange, 'direct', {
        durable: false,
        autoDelete: false,
      });
    }
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.prefetch(256);
    const peer: BenchPeer = {
      onMessage: null,
      bind: async (key, kind = 'callback') => {
        await channel.bindQueue(queue, prefix + EXCHANGE_OF[kind], key);
      },
      send: (message) =>
        new Promise<void>((resolve, reject) => {
          const [kind, key] = route(message);
          channel.publish(
            prefix + EXCHANGE_OF[kind],
            key,
            Buffer.from(rawCodec.encode(message)),
            {},
            (error) => (error ? reject(error) : resolve()),
          );
        }),
      close: async () => {
        await connection.close();
      },
    };
    await channel.consume(queue, (delivery) => {
      if (delivery === null) return;
      rawCodec.decodeKey(delivery.content);
      peer.onMessage?.(delivery.fields.routingKey);
      channel.ack(delivery);
    });
    return peer;
  };
}
