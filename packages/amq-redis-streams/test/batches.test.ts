import { AMQSendError, AMQUnconfirmedSendError } from '@teal/amq-core';
import { describeWithBroker, Inbox, transportOf, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { bucketOf } from '../src/names';
import {
  APPEND_BATCH_SCRIPT_SHA,
  APPEND_SCRIPT_SHA,
  MAX_BATCH_ENTRIES,
} from '../src/publisher-scripts';
import type { RedisStreamsTransport } from '../src/transport';
import { previousIds, useTestBed } from './support/broker';
import { redisServerMissing, usePrivateRedis } from './support/server';

// A private server: the tests count the script runs in its command statistics.
describeWithBroker(
  'redis-streams sends of one tick, in one run',
  await redisServerMissing(),
  () => {
    const redis = usePrivateRedis();
    const bed = useTestBed(() => redis.server.url);

    /** How many times the batch script ran (EVAL or EVALSHA) since the statistics were reset. */
    const runs = async () => {
      const stats = (await bed.admin.info('commandstats')) as string;
      return [...stats.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+)/gm)].reduce(
        (sum, [, calls]) => sum + Number(calls),
        0,
      );
    };

    const url = (state: string, n: number) => `https://x.test/cb?${state}=${n}`;

    /** A sender, and an inbox of a receiver bound to `state`, on a fresh prefix. */
    const open = async (state: string) => {
      const exchangePrefix = bed.prefix();
      const receiver = await bed.connect({ exchangePrefix });
      const sender = await bed.connect({ exchangePrefix });
      const inbox = new Inbox(receiver);
      await receiver.bindCallbackState(state);
      return { sender, inbox };
    };

    it('writes the sends of one tick in one run, in send order, each entry naming the one before it', async () => {
      const { sender, inbox } = await open('tick');
      await sender.send(callbackMessage({ url: url('tick', -1), state: 'tick' }));
      await inbox.receive(1, 5_000);

      await bed.admin.config('RESETSTAT');
      const count = MAX_BATCH_ENTRIES * 2 + 10;
      await Promise.all(
        Array.from({ length: count }, (_, n) =>
          sender.send(callbackMessage({ url: url('tick', n), state: 'tick' })),
        ),
      );
      // Full runs of MAX_BATCH_ENTRIES, then the rest.
      expect(await runs()).toBe(3);
      // The inbox holds every message since it opened: the first one, then these.
      const messages = (await inbox.receive(count + 1, 10_000)).slice(1);
      expect(messages.map((m) => (m.kind === 'callback' ? m.url : ''))).toEqual(
        Array.from({ length: count }, (_, n) => url('tick', n)),
      );

      const { keys } = transportOf<RedisStreamsTransport>(sender);
      const stream = keys.bucketStream('callbacks', 'tick');
      const entries = await previousIds(bed.admin, stream);
      expect(entries).toHaveLength(count + 1);
      expect(entries.slice(1).map((entry) => entry.previous)).toEqual(
        entries.slice(0, -1).map((entry) => entry.id),
      );
      expect(await bed.admin.get(keys.lastIdKey(stream))).toBe(entries.at(-1)!.id);
      expect(await bed.admin.pttl(stream)).toBeGreaterThan(0);
      expect(((await bed.admin.script('EXISTS', APPEND_BATCH_SCRIPT_SHA)) as number[])[0]).toBe(1);
    });

    it('writes a send alone on its tick with the single-entry script, one run each', async () => {
      const { sender, inbox } = await open('alone');
      // No script on the server yet: what the sends load is what they ran.
      await bed.admin.script('FLUSH');
      await bed.admin.config('RESETSTAT');
      for (let n = 0; n < 3; n++) {
        await sender.send(callbackMessage({ url: url('alone', n), state: 'alone' }));
      }
      expect(await runs()).toBe(3);
      const exists = (await bed.admin.script(
        'EXISTS',
        APPEND_SCRIPT_SHA,
        APPEND_BATCH_SCRIPT_SHA,
      )) as number[];
      expect(exists).toEqual([1, 0]);
      const messages = await inbox.receive(3, 5_000);
      expect(messages.map((m) => (m.kind === 'callback' ? m.url : ''))).toEqual(
        [0, 1, 2].map((n) => url('alone', n)),
      );
    });

    it('keeps a run within 64 KiB of bodies, and sends a larger body alone, all in send order', async () => {
      const { sender, inbox } = await open('large');
      await bed.admin.config('RESETSTAT');
      const padded = (n: number, kib: number) => `${url('large', n)}&pad=${'x'.repeat(kib * 1024)}`;
      const urls = [20, 20, 20, 20, 100, 20].map((kib, n) => padded(n, kib));
      await Promise.all(urls.map((u) => sender.send(callbackMessage({ url: u, state: 'large' }))));
      // Three of 20 KiB fit in 64 KiB; the fourth starts a run, which the one of 100 KiB,
      // alone, follows; the last starts the fourth run.
      expect(await runs()).toBe(4);
      const messages = await inbox.receive(urls.length, 10_000);
      expect(messages.map((m) => (m.kind === 'callback' ? m.url : ''))).toEqual(urls);
    });

    it('fails the entries whose key holds another type, and no other of their run', async () => {
      const exchangePrefix = bed.prefix();
      const receiver = await bed.connect({ exchangePrefix });
      const transport = transportOf<RedisStreamsTransport>(receiver);
      const { buckets } = transport.keys;
      const sender = await bed.connect({ exchangePrefix });
      // Three states in three buckets. The stream keys of two are made strings: one with
      // its last-id key set (the script's XADD meets the string), one without (its XREVRANGE).
      const states = ['fine'];
      for (let n = 0; states.length < 3; n++) {
        const bucketsTaken = states.map((state) => bucketOf(state, buckets));
        if (!bucketsTaken.includes(bucketOf(`broken-${n}`, buckets))) states.push(`broken-${n}`);
      }
      const [fine, brokenAtAdd, brokenAtRead] = states as [string, string, string];
      const seen: string[] = [];
      receiver.callback = (message) => {
        if (message.kind === 'callback') seen.push(message.url);
      };
      await receiver.bindCallbackState(fine);
      const { keys } = transport;
      for (const broken of [brokenAtAdd, brokenAtRead])
        await bed.admin.set(keys.bucketStream('callbacks', broken), 'not a stream');
      await bed.admin.set(keys.lastIdKey(keys.bucketStream('callbacks', brokenAtAdd)), '1-0');

      const stateOf = (n: number) => states[n % 3]!;
      const outcomes = await Promise.allSettled(
        Array.from({ length: 9 }, (_, n) =>
          sender.send(callbackMessage({ url: url(stateOf(n), n), state: stateOf(n) })),
        ),
      );
      for (const [n, outcome] of outcomes.entries()) {
        if (stateOf(n) === fine) {
          expect(outcome.status).toBe('fulfilled');
          continue;
        }
        expect(outcome.status).toBe('rejected');
        const reason = (outcome as PromiseRejectedResult).reason;
        // Refused: never written, so never delivered.
        expect(reason).toBeInstanceOf(AMQSendError);
        expect(reason).not.toBeInstanceOf(AMQUnconfirmedSendError);
        expect(String(reason.message)).toMatch(/WRONGTYPE/);
      }
      await waitFor(() => seen.length === 3, 'the sends on the stream');
      expect(seen).toEqual([0, 3, 6].map((n) => url(fine, n)));
    });
  },
);
