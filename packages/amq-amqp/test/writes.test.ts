import type { Socket } from 'node:net';
import { describeWithBroker, waitFor } from '@teal/amq-core/testing';
import type { ChannelModel } from 'amqplib';
import { expect, it } from 'vitest';
import { coalesceWrites } from '../src/connection-frames';
import { cleanupsAfterEach, probeRabbit, rawConnection } from './support/broker';

const unavailable = await probeRabbit();

/** Counts the socket's writes to the kernel: one `_write` or `_writev` call each. */
function countWrites(model: ChannelModel): { readonly count: number } {
  const socket = (model.connection as unknown as { stream: Socket }).stream;
  const counter = { count: 0 };
  const internals = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  for (const method of ['_write', '_writev'] as const) {
    const original = internals[method];
    internals[method] = function counted(this: unknown, ...args: unknown[]) {
      counter.count++;
      return original.apply(this, args);
    };
  }
  return counter;
}

describeWithBroker(
  'amqp writes: the frames of one turn go to the socket together',
  unavailable,
  () => {
    const cleanups = cleanupsAfterEach();

    async function publishBurst(coalesced: boolean) {
      const model = await rawConnection(cleanups);
      if (coalesced) coalesceWrites(model);
      const channel = await model.createChannel();
      const { queue } = await channel.assertQueue('', { exclusive: true });
      const writes = countWrites(model);
      for (let i = 0; i < 200; i++) channel.sendToQueue(queue, Buffer.from(`message ${i}`));
      // A round trip behind the burst: every frame before it was written.
      await channel.checkQueue(queue);
      const burstWrites = writes.count;
      const bodies: string[] = [];
      await channel.consume(
        queue,
        (message) => message && bodies.push(message.content.toString()),
        {
          noAck: true,
        },
      );
      await waitFor(() => bodies.length >= 200, 'the 200 messages');
      return { writes: burstWrites, bodies };
    }

    it('writes 200 publishes of one turn in one write, every one arriving, in order', async () => {
      const { writes, bodies } = await publishBurst(true);
      expect(bodies).toEqual(Array.from({ length: 200 }, (_, i) => `message ${i}`));
      // The burst, then checkQueue's frame in a turn of its own.
      expect(writes).toBe(2);
    });

    it('is what makes the difference: amqplib alone writes each publish by itself', async () => {
      const plain = await publishBurst(false);
      const coalesced = await publishBurst(true);
      expect(plain.bodies).toEqual(coalesced.bodies);
      expect(plain.writes).toBeGreaterThanOrEqual(200);
    });
  },
);
