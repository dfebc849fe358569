import {
  describeWithBroker,
  formatOutageFigures,
  type OutageFigures,
  randomKey,
  reportFigure,
  sleep,
  steadySends,
} from '@teal/amq-core/testing';
import { expect, it } from 'vitest';
import type { NatsMode } from '../src/index';
import { privateServerForFile, privateServerUnavailable } from './support/server';

const RUNS = 3;
const BEFORE_MS = 1_000;
const OUTAGE_MS = 1_000;
const AFTER_MS = 2_000;

describeWithBroker(
  'nats under steady sends across a server restart',
  privateServerUnavailable(),
  () => {
    const { server, handler } = privateServerForFile();

    /**
     * One handler sends to another, one awaited send after the other, while the
     * server is killed (SIGKILL to its PID) and started again on its port and store.
     */
    async function run(mode: NatsMode): Promise<OutageFigures> {
      const prefix = `restart-load-${randomKey('p')}.`;
      const options = { mode, exchangePrefix: prefix, sendTimeoutMs: 30_000 };
      const [receiver, sender] = [await handler(options), await handler(options)];
      await receiver.bindCallbackState('k');
      const sends = steadySends(sender, receiver, 'k');
      await sleep(BEFORE_MS);
      await server().kill();
      await sleep(OUTAGE_MS);
      await server().restart();
      sends.mark();
      await sleep(AFTER_MS);
      return sends.finish(30_000);
    }

    for (const mode of ['core', 'jetstream'] as const) {
      it(`${mode}: ${RUNS} restarts under steady sequential sends`, async () => {
        const all: OutageFigures[] = [];
        for (let i = 0; i < RUNS; i++) {
          const figures = await run(mode);
          all.push(figures);
          reportFigure(`nats ${mode} restart ${i + 1}/${RUNS}: ${formatOutageFigures(figures)}`);
        }
        for (const figures of all) {
          expect(figures.duplicated).toBe(0);
          expect(figures.inOrder).toBe(true);
          expect(figures.rejectedYetDelivered).toBe(0);
          expect(figures.resumeSeconds).toBeLessThan(30);
          if (mode === 'jetstream') {
            // Durable: every send resolves, every confirmed one is delivered.
            expect(figures.rejected + figures.unconfirmed).toBe(0);
            expect(figures.lost).toBe(0);
            expect(figures.delivered).toBe(figures.sent);
          }
        }
      }, 180_000);
    }
  },
);
