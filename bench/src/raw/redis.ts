import { Redis } from 'ioredis';
import { type BenchPeer, EXCHANGE_OF, type PeerFactory, rawCodec, route } from '../peer';

/** ioredis alone: XADD to a stream per key, one blocking XREAD over every bound stream. */
export function rawRedis(url: string): PeerFactory {
  return async (prefix) => {
    const commands = new Redis(url, { enableAutoPipelining: true });
    const reader = new Redis(url);
    const readerId = (await reader.client('ID')) as number;
    const lastIds = new Map<string, string>();
    const keyOf = new Map<string, string>();
    let isOpen = true;
    let isReading = false;
    const streamOf = (kind: keyof typeof EXCHANGE_OF, key: string) =>
      `raw:{${prefix}}:${EXCHANGE_OF[kind]}:${key}`;

    const read = async () => {
      isReading = true;
      while (isOpen) {
        const streams = [...lastIds.keys()];
        let reply: Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
        try {
          reply = (await reader.xreadBuffer(
            'COUNT',
            512,
            'BLOCK',
            5_000,
            'STREAMS',
            ...streams,
            ...streams.map((s) => lastIds.get(s)!),
          )) as typeof reply;
        } catch {
          if (!isOpen) return;
          continue;
        }
        for (const [streamName, entries] of reply ?? []) {
          const stream = streamName.toString();
          for (const [id, fields] of entries) {
            lastIds.set(stream, id.toString());
            rawCodec.decodeKey(fields[1]!);
            peer.onMessage?.(keyOf.get(stream)!);
          }
        }
      }
    };

    const peer: BenchPeer = {
      onMessage: null,
      bind: async (key, kind = 'callback') => {
        const stream = streamOf(kind, key);
        const [last] = (await commands.xrevrange(stream, '+', '-', 'COUNT', 1)) as Array<
          [string, string[]]
        >;
        lastIds.set(stream, last?.[0] ?? '0-0');
        keyOf.set(stream, key);
        if (!isReading) void read();
        else await commands.client('UNBLOCK', readerId);
      },
      send: async (message) => {
        const [kind, key] = route(message);
        await commands.xadd(
          streamOf(kind, key),
          'MAXLEN',
          '~',
          10_000,
          '*',
          'b',
          rawCodec.encode(message),
        );
      },
      close: async () => {
        isOpen = false;
        await commands.client('UNBLOCK', readerId);
        const keys = [...lastIds.keys()];
        for (let i = 0; i < keys.length; i += 1_000)
          await commands.del(...keys.slice(i, i + 1_000));
        reader.disconnect();
        await commands.quit();
      },
    };
    return peer;
  };
}
