import { type AMQHandler, AMQUnconfirmedSendError } from '@teal/amq-core';
import {
  describeWithBroker,
  randomPrefix,
  reportFigure,
  sleep,
  waitFor,
} from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { expect, it } from 'vitest';
import { connect } from '../src/index';
import { type PrivateRedis, redisServerMissing, usePrivateRedis } from './support/server';

/** How long the server stays down, and the handlers' send timeout: shorter, then longer than the outage. */
const SCENARIOS = [
  { runs: 3, downMs: 1_000, sendTimeoutMs: 5_000 },
  { runs: 2, downMs: 2_500, sendTimeoutMs: 1_000 },
] as const;

interface Send {
  readonly n: number;
  readonly startedAt: number;
  endedAt: number;
  /** `unconfirmed`: rejected with an AMQUnconfirmedSendError, the one rejection that may be delivered. */
  outcome: 'pending' | 'confirmed' | 'rejected' | 'unconfirmed';
}

/** One restart under steady sequential sends: what was sent, confirmed, delivered, lost, twice. */
async function restartUnderLoad(server: PrivateRedis, downMs: number, sendTimeoutMs: number) {
  const exchangePrefix = randomPrefix();
  const state = 'restart';
  const handlers: AMQHandler[] = [];
  try {
    const receiver = await connect({ url: server.url, exchangePrefix, sendTimeoutMs });
    handlers.push(receiver);
    const sender = await connect({ url: server.url, exchangePrefix, sendTimeoutMs });
    handlers.push(sender);
    receiver.onError = sender.onError = () => {};
    const delivered: number[] = [];
    receiver.callback = (message) => {
      if (message.kind === 'callback')
        delivered.push(Number(new URL(message.url).searchParams.get('n')));
    };
    await receiver.bindCallbackState(state);

    const sends: Send[] = [];
    let isSending = true;
    let confirmedAfterRestart = 0;
    let restartedAt = Number.POSITIVE_INFINITY;
    const sending = (async () => {
      for (let n = 0; isSending; n++) {
        const send: Send = { n, startedAt: Date.now(), endedAt: 0, outcome: 'pending' };
        sends.push(send);
        try {
          await sender.send(callbackMessage({ url: `https://x.test/cb?n=${n}`, state }));
          send.outcome = 'confirmed';
          if (send.startedAt > restartedAt) confirmedAfterRestart++;
        } catch (error) {
          send.outcome = error instanceof AMQUnconfirmedSendError ? 'unconfirmed' : 'rejected';
        }
        send.endedAt = Date.now();
      }
    })();
    await waitFor(() => sends.length > 300, '300 sends before the restart', 30_000);
    const killedAt = Date.now();
    await server.kill();
    const diedAt = Date.now();
    await sleep(downMs);
    await server.restart();
    restartedAt = Date.now();
    await waitFor(
      () => confirmedAfterRestart >= 300,
      '300 sends confirmed after the restart',
      60_000,
    );
    isSending = false;
    await sending;
    const confirmed = sends.filter((send) => send.outcome === 'confirmed');
    const lastConfirmed = confirmed.at(-1)!.n;
    await waitFor(() => delivered.includes(lastConfirmed), 'the last confirmed send', 30_000);
    await sleep(500);

    const deliveredSet = new Set(delivered);
    // The first send confirmed after the server died: the restarted server confirmed it.
    const firstBack = confirmed.find((send) => send.endedAt > diedAt);
    const closing = performance.now();
    await Promise.all(handlers.splice(0).map((handler) => handler.close()));
    const closeMs = Math.round(performance.now() - closing);
    return {
      closeMs,
      sent: sends.length,
      confirmed: confirmed.length,
      rejected: sends.filter((send) => send.outcome === 'rejected').length,
      unconfirmed: sends.filter((send) => send.outcome === 'unconfirmed').map((send) => send.n),
      delivered: deliveredSet.size,
      duplicated: delivered.length - deliveredSet.size,
      lost: confirmed.filter((send) => !deliveredSet.has(send.n)).map((send) => send.n),
      lostAfterRestart: confirmed
        .filter((send) => send.startedAt > restartedAt && !deliveredSet.has(send.n))
        .map((send) => send.n),
      rejectedAfterRecovery: sends
        .filter(
          (send) => send.outcome !== 'confirmed' && send.startedAt > (firstBack?.endedAt ?? 0),
        )
        .map((send) => send.n),
      // Sent before the server died and settled after the kill began: Redis may have applied it
      // and died before its reply left, so its outcome was unknown at its deadline.
      inFlightAtDeath: sends
        .filter((send) => send.startedAt <= diedAt && send.endedAt >= killedAt)
        .map((send) => send.n),
      rejectedButDelivered: sends
        .filter((send) => send.outcome === 'rejected' && deliveredSet.has(send.n))
        .map((send) => send.n),
      unconfirmedButDelivered: sends
        .filter((send) => send.outcome === 'unconfirmed' && deliveredSet.has(send.n))
        .map((send) => send.n),
      longestSendMs: Math.max(...sends.map((send) => send.endedAt - send.startedAt)),
      recoverySeconds: ((firstBack?.endedAt ?? Number.NaN) - diedAt) / 1_000,
      inOrder: delivered.every((n, index) => index === 0 || n > delivered[index - 1]!),
    };
  } finally {
    await Promise.allSettled(handlers.map((handler) => handler.close()));
  }
}

describeWithBroker(
  'redis-streams restart of a server without persistence',
  await redisServerMissing(),
  () => {
    const redis = usePrivateRedis();

    it.each(SCENARIOS)(
      'keeps sending through $runs restarts of $downMs ms with a send timeout of $sendTimeoutMs ms: every send settles in time, none arrives twice, every send after the restart arrives, a rejected send never arrives, and only one in flight when the server died rejects unconfirmed',
      async ({ runs, downMs, sendTimeoutMs }) => {
        for (let run = 1; run <= runs; run++) {
          const result = await restartUnderLoad(redis.server, downMs, sendTimeoutMs);
          reportFigure(
            `redis-streams restart ${run}/${runs} (no persistence, ${downMs} ms down, sendTimeoutMs ${sendTimeoutMs}): sent ${result.sent}, confirmed ${result.confirmed}, rejected ${result.rejected}, unconfirmed ${result.unconfirmed.length}, delivered ${result.delivered}, lost ${result.lost.length} (after the restart ${result.lostAfterRestart.length}), duplicated ${result.duplicated}, unconfirmed but delivered ${result.unconfirmedButDelivered.length} (of ${result.inFlightAtDeath.length} in flight at the kill), longest send ${result.longestSendMs} ms, close ${result.closeMs} ms, recovered in ${result.recoverySeconds.toFixed(2)} s`,
          );
          expect(result.longestSendMs).toBeLessThan(sendTimeoutMs + 1_000);
          expect(result.closeMs).toBeLessThan(sendTimeoutMs + 1_000);
          expect(result.lostAfterRestart).toEqual([]);
          expect(result.rejectedAfterRecovery).toEqual([]);
          expect(result.duplicated).toBe(0);
          expect(result.rejectedButDelivered).toEqual([]);
          for (const n of result.unconfirmed) expect(result.inFlightAtDeath).toContain(n);
          expect(result.inOrder).toBe(true);
          // A send waits out an outage shorter than its timeout; a longer one rejects some.
          if (downMs < sendTimeoutMs) expect(result.rejected + result.unconfirmed.length).toBe(0);
          else expect(result.rejected).toBeGreaterThan(0);
        }
      },
      180_000,
    );
  },
);
