import { describeWithBroker, sleep, waitFor } from '@teal/amq-core/testing';
import { callbackMessage, encodeMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { previousIds, unavailable, useTestBed, watchedPair } from './support/broker';

/**
 * Earlier versions wrote an entry's producer, sequence number and previous
 * id as three fields, `p`, `n` and `v`, where this one writes `m`. During a
 * rolling upgrade both kinds share a stream: readers of this version read
 * both the same way.
 */
describeWithBroker('redis-streams: entries of the earlier format (p, n, v)', unavailable, () => {
  const bed = useTestBed();

  const setUp = async (state: string) => {
    const { sender, seen, errors, records, keys } = await watchedPair(bed, [state]);
    const stream = keys.bucketStream('callbacks', state);
    /** Appends an entry as a writer of the earlier format did, naming the stream's last entry as `v`. */
    const writeEarlier = async (url: string, producer: string, sequence: number) => {
      const [last] = (await bed.admin.xrevrange(stream, '+', '-', 'COUNT', 1)) as [
        string,
        string[],
      ][];
      const body = encodeMessage(callbackMessage({ url, state }));
      // biome-ignore format: field/value pairs
      await bed.admin.xadd(stream, '*', 'k', state, 'p', producer, 'n', String(sequence),
        'v', last?.[0] ?? '0-0', 'b', body);
    };
    return { sender, seen, errors, records, stream, writeEarlier };
  };

  it('delivers them between this version’s entries, once each, and drops a repeat of one', async () => {
    const state = 'earlier';
    const { sender, seen, errors, records, stream, writeEarlier } = await setUp(state);
    await sender.send(callbackMessage({ url: 'https://x.test/cb?1', state }));
    await writeEarlier('https://x.test/cb?2', 'abcdef0123456789', 1);
    // The same write again, as ioredis resends one after a reconnect: a repeat.
    await writeEarlier('https://x.test/cb?2-again', 'abcdef0123456789', 1);
    await writeEarlier('https://x.test/cb?3', 'abcdef0123456789', 2);
    await sender.send(callbackMessage({ url: 'https://x.test/cb?4', state }));
    await waitFor(() => seen.includes('https://x.test/cb?4'), 'the last message');
    await sleep(200);
    expect(seen).toEqual([
      'https://x.test/cb?1',
      'https://x.test/cb?2',
      'https://x.test/cb?3',
      'https://x.test/cb?4',
    ]);
    expect(errors).toEqual([]);
    expect(records.filter((record) => record.level === 'warn')).toEqual([]);
    // This version's entries carry `m`, which names the entry before them.
    const entries = await previousIds(bed.admin, stream);
    expect(entries[0]!.previous).toBe('0-0');
    expect(entries.at(-1)!.previous).toMatch(/^\d+-\d+$/);
  });
});
