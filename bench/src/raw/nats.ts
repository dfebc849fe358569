import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type Subscription } from '@nats-io/transport-node';
import { type BenchPeer, EXCHANGE_OF, type PeerFactory, rawCodec, route } from '../peer';

const token = (prefix: string) => Buffer.from(prefix).toString('hex') || 'x';

/** nats.js alone: publish + flush, a subscription per bound key. */
export function rawNats(url: string): PeerFactory {
  return async (prefix) => {
    const nc = await connect({ servers: url });
    const subscriptions: Subscription[] = [];
    const peer: BenchPeer = {
      onMessage: null,
      bind: async (key, kind = 'callback') => {
        const subject = `raw.${token(prefix)}.${EXCHANGE_OF[kind]}.${key}`;
        subscriptions.push(
          nc.subscribe(subject, {
            callback: (error, message) => {
              if (error) return;
              rawCodec.decodeKey(message.data);
              peer.onMessage?.(key);
            },
          }),
        );
        await nc.flush();
      },
      send: async (message) => {
        const [kind, key] = route(message);
        nc.publish(`raw.${token(prefix)}.${EXCHANGE_OF[kind]}.${key}`, rawCodec.encode(message));
        await nc.flush();
      },
      close: () => nc.close(),
    };
    return peer;
  };
}

/** JetStream alone: a stream per prefix, publish with ack, an ordered consumer per exchange filtered locally. */
export function rawJetStream(url: string): PeerFactory {
  return async (prefix) => {
    const nc = await connect({ servers: url });
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const name = `RAW_${token(prefix)}`;
    const root = `rawjs.${token(prefix)}`;
    await jsm.streams.add({
      name,
      subjects: [`${root}.>`],
      max_age: 120 * 1e9,
      max_bytes: 1024 ** 3,
    });
    const bound = new Set<string>();
    const consuming = new Set<string>();
    const peer: BenchPeer = {
      onMessage: null,
      bind: async (key, kind = 'callback') => {
        const exchange = EXCHANGE_OF[kind];
        bound.add(`${exchange}.${key}`);
        if (consuming.has(exchange)) return;
        consuming.add(exchange);
        const consumer = await js.consumers.get(name, {
          filter_subjects: `${root}.${exchange}.>`,
          deliver_policy: DeliverPolicy.New,
        });
        const messages = await consumer.consume({ max_messages: 1_000 });
        void (async () => {
          for await (const message of messages) {
            const local = message.subject.slice(root.length + 1);
            rawCodec.decodeKey(message.data);
            if (bound.has(local)) peer.onMessage?.(local.slice(exchange.length + 1));
          }
        })();
      },
      send: async (message) => {
        const [kind, key] = route(message);
        await js.publish(`${root}.${EXCHANGE_OF[kind]}.${key}`, rawCodec.encode(message));
      },
      close: async () => {
        await jsm.streams.delete(name).catch(() => false);
        await nc.close();
      },
    };
    return peer;
  };
}
