import { type AMQHandler, AMQUnconfirmedSendError } from '@teal/amq-core';
import { describeWithBroker, randomPrefix, reportFigure, sleep } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from '../src/index';
import { PrivateServer, privateServerMissing } from './support/server';

/** Send timeouts of the runs: the default, and shorter than the outage. */
const RUNS = [10_000, 10_000, 10_000, 1_000, 1_000];
const SENDING_MS = 8_000;
const STOP_AT_MS = 2_000;
const DOWN_MS = 1_500;

interface Figures {
  sent: number;
  confirmed: number;
  rejected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** Rejected sends that were delivered all the same (their commit's answer was lost). */
  rejectedButDelivered: number;
  /** Rejected as never written, yet delivered: must be none. */
  rejectedAsUnsentButDelivered: number;
  /** From the server answering again to the first confirmed send. */
  recoverySeconds: number;
}

/**
 * Sends one message at a time, each awaited, while the server is killed
 * (immediate shutdown: crash recovery at the next start) and started again.
 */
async function restartRun(server: PrivateServer, sendTimeoutMs: number): Promise<Figures> {
  const handlers: AMQHandler[] = [];
  try {
    const options = { url: server.url, exchangePrefix: randomPrefix(), sendTimeoutMs };
    const receiver = await connect({ ...options, onError: () => {} });
    handlers.push(receiver);
    const sender = await connect({ ...options, onError: () => {} });
    handlers.push(sender);
    const delivered: number[] = [];
    receiver.callback = (message) => {
      if (message.kind === 'callback')
        delivered.push(Number(new URL(message.url).searchParams.get('n')));
    };
    await receiver.bindCallbackState('steady');

    const confirmed = new Set<number>();
    const rejected = new Set<number>();
    /** Rejected as unconfirmed: written, the broker may have it. */
    const unconfirmed = new Set<number>();
    let restartedAt = Number.POSITIVE_INFINITY;
    let recoveredAt = Number.POSITIVE_INFINITY;
    const outage = (async () => {
      await sleep(STOP_AT_MS);
      await server.stop('immediate');
      await sleep(DOWN_MS);
      await server.restart();
      restartedAt = performance.now();
    })();
    const started = performance.now();
    let n = 0;
    while (performance.now() - started < SENDING_MS) {
      try {
        await sender.send(callbackMessage({ url: `https://x.test/cb?n=${n}`, state: 'steady' }));
        confirmed.add(n);
        const now = performance.now();
        if (now > restartedAt && recoveredAt === Number.POSITIVE_INFINITY) recoveredAt = now;
      } catch (error) {
        rejected.add(n);
        if (error instanceof AMQUnconfirmedSendError) unconfirmed.add(n);
      }
      n++;
    }
    await outage;
    const deadline = Date.now() + 30_000;
    while ([...confirmed].some((m) => !delivered.includes(m)) && Date.now() < deadline) {
      await sleep(100);
    }
    await sleep(500);
    const unique = new Set(delivered);
    return {
      sent: n,
      confirmed: confirmed.size,
      rejected: rejected.size,
      delivered: unique.size,
      lost: [...confirmed].filter((m) => !unique.has(m)).length,
      duplicated: delivered.length - unique.size,
      rejectedButDelivered: [...rejected].filter((m) => unique.has(m)).length,
      rejectedAsUnsentButDelivered: [...rejected].filter(
        (m) => unique.has(m) && !unconfirmed.has(m),
      ).length,
      recoverySeconds: Math.max(0, (recoveredAt - restartedAt) / 1_000),
    };
  } finally {
    await Promise.allSettled(handlers.map((handler) => handler.close()));
  }
}

describeWithBroker('postgres restart (private server)', await privateServerMissing(), () => {
  let server: PrivateServer | undefined;
  beforeAll(async () => {
    server = await PrivateServer.start();
  }, 120_000);
  afterAll(async () => {
    await server?.destroy();
  });

  it(`loses no confirmed message and duplicates none while the server is killed and restarted (${RUNS.length} runs)`, async () => {
    const runs: Figures[] = [];
    for (const [run, sendTimeoutMs] of RUNS.entries()) {
      const figures = await restartRun(server!, sendTimeoutMs);
      runs.push(figures);
      reportFigure(
        `postgres restart run ${run + 1} (sendTimeoutMs ${sendTimeoutMs}): sent ${figures.sent}, confirmed ${figures.confirmed}, rejected ${figures.rejected}, delivered ${figures.delivered}, lost ${figures.lost}, duplicated ${figures.duplicated}, rejected but delivered ${figures.rejectedButDelivered}, recovered ${figures.recoverySeconds.toFixed(2)} s after the server answered`,
      );
    }
    for (const [run, figures] of runs.entries()) {
      const which = `run ${run + 1}: ${JSON.stringify(figures)}`;
      expect(figures.lost, which).toBe(0);
      expect(figures.duplicated, which).toBe(0);
      // Only a send that says it was written may still arrive.
      expect(figures.rejectedAsUnsentButDelivered, which).toBe(0);
      expect(figures.confirmed, which).toBeGreaterThan(0);
      expect(figures.confirmed + figures.rejected, which).toBe(figures.sent);
      // A send caught by the kill is in doubt, not failed: once the server is back it is
      // found written, or written then; only a deadline shorter than the outage fails it.
      if (RUNS[run]! > 5_000) expect(figures.rejected, which).toBe(0);
    }
  }, 300_000);
});
