import { probeBroker } from '@teal/amq-core/testing';
import { expect, it } from 'vitest';
import { BROKERS, type LoadBroker, runLoad } from '../loadtest/run';
import { isClean } from '../loadtest/table';
import { describeIfAvailable } from './helpers/require';

// The load test's --quick mode, as `pnpm --filter @teal/demo loadtest --quick`
// runs it: no request may fail, and every success must reach its socket.
const QUICK = { sockets: 200, durationSeconds: 2, connections: 10, domainEvery: 10 };

for (const name of ['memory', 'redis'] as const) {
  const broker = BROKERS.find((b) => b.name === name) as LoadBroker;
  describeIfAvailable(
    `the load test on ${name}`,
    name === 'memory' ? null : await probeBroker(broker.url),
    () => {
      it('answers every request and delivers every callback and webhook to its socket only', async () => {
        const row = await runLoad(broker, QUICK);
        expect(row.sockets).toBe(200);
        expect(row.domains).toBe(20);
        expect(row.callback.succeeded).toBeGreaterThan(0);
        expect(row.webhook.succeeded).toBeGreaterThan(0);
        expect({
          failed: row.callback.failed + row.webhook.failed,
          errors: row.callback.errors + row.webhook.errors,
          missing: row.missing,
          duplicates: row.extra,
          misdelivered: row.misdelivered,
          closed: row.socketsClosed,
        }).toEqual({ failed: 0, errors: 0, missing: 0, duplicates: 0, misdelivered: 0, closed: 0 });
        expect(row.callbacksDelivered).toBeGreaterThanOrEqual(row.callback.succeeded);
        expect(row.webhooksDelivered).toBeGreaterThanOrEqual(row.webhook.succeeded);
        expect(isClean(row)).toBe(true);
      }, 120_000);
    },
  );
}
