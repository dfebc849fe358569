import { callbackMessage, type Message } from '@teal/messages';
import { describe, expect, it } from 'vitest';
import { AMQBacklogOverflowError } from '../../errors';
import type { AMQHandler } from '../../types';
import type { SuiteContext } from '../context';
import {
  backlogOf,
  memoryFootprint,
  randomKey,
  reportFigure,
  sleep,
  transportOf,
  waitFor,
} from '../helpers';

const MiB = 1024 * 1024;
/** Large enough that holding every message shows: 10,000 of them are 40 MiB of bodies. */
const PADDING = 'x'.repeat(4 * 1024);

/** The number a message of `sendNumbered` carries. */
function numberOf(message: Message): number {
  return message.kind === 'callback' ? Number(new URL(message.url).searchParams.get('n')) : -1;
}

/** Sends `count` padded messages numbered from `from`, pipelined in batches. */
async function sendNumbered(
  sender: AMQHandler,
  state: string,
  from: number,
  count: number,
  beforeBatch: () => Promise<void> = async () => {},
): Promise<void> {
  for (let start = from; start < from + count; start += 500) {
    await beforeBatch();
    const batch: Promise<void>[] = [];
    for (let n = start; n < Math.min(start + 500, from + count); n++) {
      batch.push(
        sender.send(callbackMessage({ url: `https://x.test/cb?n=${n}&p=${PADDING}`, state })),
      );
    }
    await Promise.all(batch);
  }
}

function mebibytes(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

export function backlogSuite(suite: SuiteContext): void {
  describe('backlog and memory', () => {
    it('holds bounded memory for a stuck callback while 10,000 messages arrive, then delivers what it promises, in order', async () => {
      const count = 10_000;
      const maxBacklog = 200;
      const overflows: AMQBacklogOverflowError[] = [];
      const receiver = await suite.handler({
        maxBacklog,
        onError: (error) => {
          if (error instanceof AMQBacklogOverflowError) overflows.push(error);
        },
      });
      let release = () => {};
      const stuck = new Promise<void>((resolve) => {
        release = resolve;
      });
      const received: number[] = [];
      receiver.callback = async (message) => {
        received.push(numberOf(message));
        await stuck;
      };
      const state = randomKey('stuck');
      await receiver.bindCallbackState(state);
      const sender = await suite.handler({ sendTimeoutMs: 30_000 });
      const holdsBroker = transportOf(receiver).appliesBackpressure === true;
      const backlog = backlogOf(receiver);
      const before = await memoryFootprint();

      await sendNumbered(sender, state, 0, count);
      // Until what is on its way has landed: held, dropped, or left on the broker.
      let last = -1;
      await waitFor(
        () => {
          const settled = holdsBroker
            ? backlog.messages === last
            : received.length + backlog.messages + backlog.overflowed === count;
          last = backlog.messages;
          return settled && received.length > 0;
        },
        'the backlog to settle',
        30_000,
      );
      if (holdsBroker) await sleep(1_000);
      const grown = (await memoryFootprint()) - before;
      reportFigure(
        `${suite.target.name}: a stuck callback after ${count} messages of 4 KiB holds ${backlog.messages} (maxBacklog ${maxBacklog}); memory ${grown >= 0 ? '+' : ''}${mebibytes(grown)}; ${backlog.overflowed} dropped`,
      );
      expect(backlog.messages).toBeLessThanOrEqual(maxBacklog);
      // Holding all of them takes 60 MiB or more.
      expect(grown).toBeLessThan(24 * MiB);

      release();
      const expected = Array.from({ length: count }, (_, n) => n);
      if (holdsBroker) {
        await waitFor(() => received.length >= count, `all ${count} messages`, 60_000);
        expect(received).toEqual(expected);
        expect(backlog.overflowed).toBe(0);
      } else {
        await waitFor(() => backlog.messages === 0, 'the backlog to drain', 60_000);
        expect(received.length + backlog.overflowed).toBe(count);
        expect(received).toEqual([...received].sort((a, b) => a - b));
        expect(overflows.length).toBeGreaterThan(0);
        expect(Math.max(...overflows.map((error) => error.dropped))).toBe(backlog.overflowed);
      }
    }, 120_000);

    it('keeps its memory flat while 30,000 messages pass', async () => {
      const receiver = await suite.handler();
      let delivered = 0;
      receiver.callback = () => {
        delivered++;
      };
      const state = randomKey('flat');
      await receiver.bindCallbackState(state);
      const sender = await suite.handler({ sendTimeoutMs: 30_000 });
      let sent = 0;
      // Keeps the receiver close behind, so that only a leak can make memory grow.
      const keepUp = async () => {
        await waitFor(() => delivered >= sent - 2_000, 'the receiver to keep up', 60_000);
        sent += 500;
      };
      await sendNumbered(sender, state, 0, 10_000, keepUp);
      await waitFor(() => delivered >= 10_000, 'the first 10,000', 60_000);
      const after10k = await memoryFootprint();
      await sendNumbered(sender, state, 10_000, 20_000, keepUp);
      await waitFor(() => delivered >= 30_000, 'all 30,000', 60_000);
      const grown = (await memoryFootprint()) - after10k;
      reportFigure(
        `${suite.target.name}: memory from 10,000 to 30,000 messages of 4 KiB: ${grown >= 0 ? '+' : ''}${mebibytes(grown)}`,
      );
      expect(delivered).toBe(30_000);
      // A handler that keeps what passed grows by 80 MiB or more here.
      expect(grown).toBeLessThan(8 * MiB);
    }, 180_000);
  });
}
