import { AMQUnconfirmedSendError } from '@teal/amq-core';
import {
  describeWithBroker,
  type OutageFigures,
  randomPrefix,
  sleep,
  waitFor,
} from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from '../src/index';
import { PrivateRabbit } from './support/server';

/** Ports of this file's private node (AMQP; distribution is this plus 20,000). */
/** How many restarts the test runs: `TEAL_RESTART_RUNS` (the README's figures come from 6). */
const RUNS = Number(process.env.TEAL_RESTART_RUNS ?? 2);
/** The handlers' `reconnectGraceMs`: `TEAL_RESTART_GRACE_MS=0` shows what is lost without it. */
const GRACE_MS =
  process.env.TEAL_RESTART_GRACE_MS === undefined
    ? undefined
    : Number(process.env.TEAL_RESTART_GRACE_MS);
/** A send every few milliseconds: a few hundred a second, each awaited. */
const PAUSE_MS = 3;

/** The figures of a failover test, with what a restart adds (recovery counted from the broker's return). */
interface Figures extends Omit<OutageFigures, 'resumeSeconds' | 'inOrder'> {
  readonly how: 'stop_app' | 'kill -9';
  /**
   * Of the lost sends, those the broker confirmed before it went down: in its
   * memory (a non-durable queue, a socket buffer) when it died.
   */
  lostInTheCrash: number;
  rejectedButDelivered: number;
  outageSeconds: number;
  secondsToRecover: number;
  /** The receiver's connection events, in order. */
  events: string;
}

const unavailable = await PrivateRabbit.unavailable();

describeWithBroker('amqp: a RabbitMQ restart under steady sends', unavailable, () => {
  let rabbit: PrivateRabbit;
  const results: Figures[] = [];

  beforeAll(async () => {
    rabbit = await PrivateRabbit.start();
  }, 400_000);

  afterAll(async () => {
    await rabbit?.stop();
    if (results.length > 0) console.table(results);
  }, 60_000);

  /**
   * One handler sends, one after the other, to another handler bound to the
   * key, while the broker stops and starts again (its queues and exchanges,
   * not durable, are gone when it is back).
   */
  async function restartUnderLoad(how: Figures['how']): Promise<Figures> {
    const exchangePrefix = randomPrefix();
    const options = {
      url: rabbit.url,
      exchangePrefix,
      // Longer than a node boot on a busy machine (70 s seen): waiting sends must not turn into rejections.
      sendTimeoutMs: 120_000,
      onError: () => {},
      ...(GRACE_MS === undefined ? {} : { reconnectGraceMs: GRACE_MS }),
    };
    const receiver = await connect(options);
    const sender = await connect(options);
    const delivered = new Map<number, number>();
    let firstDeliveryAfterBack = 0;
    let backAt = 0;
    receiver.callback = (message) => {
      if (message.kind !== 'callback') return;
      const n = Number(new URL(message.url).searchParams.get('n'));
      delivered.set(n, (delivered.get(n) ?? 0) + 1);
      if (backAt > 0 && firstDeliveryAfterBack === 0) firstDeliveryAfterBack = Date.now();
    };
    await receiver.bindCallbackState('k');
    const events: string[] = [];
    receiver.on('disconnected', () => events.push('disconnected'));
    receiver.on('reconnected', () => events.push('reconnected'));
    const outcomes: Array<'confirmed' | 'unconfirmed' | 'rejected'> = [];
    const confirmedAt: number[] = [];
    let isSending = true;
    const sending = (async () => {
      for (let n = 0; isSending; n++) {
        try {
          await sender.send(callbackMessage({ url: `https://x.test/cb?n=${n}`, state: 'k' }));
          outcomes[n] = 'confirmed';
          confirmedAt[n] = Date.now();
        } catch (error) {
          outcomes[n] = error instanceof AMQUnconfirmedSendError ? 'unconfirmed' : 'rejected';
        }
        await sleep(PAUSE_MS);
      }
    })();
    try {
      await sleep(1_500);
      const stoppedAt = Date.now();
      let downAt: number;
      if (how === 'stop_app') {
        await rabbit.stopApp();
        downAt = Date.now();
        await sleep(2_000);
        await rabbit.startApp();
      } else {
        await rabbit.kill();
        downAt = Date.now();
        await sleep(1_000);
        await rabbit.boot();
      }
      backAt = Date.now();
      await waitFor(() => firstDeliveryAfterBack > 0, 'a delivery after the restart', 60_000);
      await sleep(2_000);
      isSending = false;
      await sending;
      const confirmed = outcomes.flatMap((outcome, n) => (outcome === 'confirmed' ? [n] : []));
      await waitFor(
        () => confirmed.every((n) => delivered.has(n)),
        'every confirmed send',
        5_000,
      ).catch(() => {});
      await sleep(500);
      const rejected = outcomes.length - confirmed.length;
      const lost = confirmed.filter((n) => !delivered.has(n));
      return {
        how,
        sent: outcomes.length,
        confirmed: confirmed.length,
        rejected,
        unconfirmed: outcomes.filter((outcome) => outcome === 'unconfirmed').length,
        delivered: [...delivered.keys()].length,
        lost: lost.length,
        lostInTheCrash: lost.filter((n) => confirmedAt[n]! <= downAt).length,
        duplicated: [...delivered.values()].filter((count) => count > 1).length,
        rejectedButDelivered: outcomes.filter(
          (outcome, n) => outcome !== 'confirmed' && delivered.has(n),
        ).length,
        rejectedYetDelivered: outcomes.filter(
          (outcome, n) => outcome === 'rejected' && delivered.has(n),
        ).length,
        outageSeconds: (backAt - stoppedAt) / 1_000,
        secondsToRecover: (firstDeliveryAfterBack - backAt) / 1_000,
        events: events.join(' '),
      };
    } finally {
      isSending = false;
      await sending;
      await Promise.allSettled([receiver.close(), sender.close()]);
    }
  }

  for (let run = 0; run < RUNS; run++) {
    const how = run % 2 === 0 ? 'stop_app' : 'kill -9';
    it(`loses no send confirmed around a restart but what the broker held as it died (${how}, run ${run + 1} of ${RUNS})`, async () => {
      const figures = await restartUnderLoad(how);
      results.push(figures);
      console.log(JSON.stringify(figures));
      // The reconnection loses nothing; RabbitMQ's crash may take what it had just confirmed.
      expect(figures.lost - figures.lostInTheCrash).toBe(0);
      expect(figures.lostInTheCrash).toBeLessThanOrEqual(1);
      expect(figures.duplicated).toBe(0);
      // Only the send in flight when the broker went may fail.
      expect(figures.rejected).toBeLessThanOrEqual(1);
      // A rejected send that was delivered said it might be: an AMQUnconfirmedSendError.
      expect(figures.rejectedYetDelivered).toBe(0);
      expect(figures.events).toMatch(/^disconnected .*reconnected$/);
    }, 420_000);
  }
});
