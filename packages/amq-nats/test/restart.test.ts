import { AMQUnconfirmedSendError } from '@teal/amq-core';
import {
  describeWithBroker,
  randomKey,
  reportFigure,
  sleep,
  waitFor,
} from '@teal/amq-core/testing';
import { callbackMessage, type Message } from '@teal/messages';
import { expect, it } from 'vitest';
import type { NatsMode } from '../src/index';
import { privateServerForFile, privateServerUnavailable } from './support/server';

const RUNS = 3;
const BEFORE_MS = 1_000;
const OUTAGE_MS = 1_000;
const AFTER_MS = 2_000;

const seqOf = (message: Message) =>
  message.kind === 'callback' ? Number(new URL(message.url).searchParams.get('seq')) : -1;

interface Figures {
  sent: number;
  confirmed: number;
  rejected: number;
  unconfirmed: number;
  delivered: number;
  lost: number;
  duplicated: number;
  rejectedYetDelivered: number;
  recoverySeconds: number;
  inOrder: boolean;
}

describeWithBroker(
  'nats under steady sends across a server restart',
  privateServerUnavailable(),
  () => {
    const { server, handler } = privateServerForFile();

    /**
     * One handler sends to another, one awaited send after the other, while the
     * server is killed (SIGKILL to its PID) and started again on its port and store.
     */
    async function run(mode: NatsMode): Promise<Figures> {
      const prefix = `restart-load-${randomKey('p')}.`;
      const options = { mode, exchangePrefix: prefix, sendTimeoutMs: 30_000 };
      const [receiver, sender] = [await handler(options), await handler(options)];
      const arrivals: Array<{ seq: number; at: number }> = [];
      receiver.callback = (message) => {
        arrivals.push({ seq: seqOf(message), at: performance.now() });
      };
      await receiver.bindCallbackState('k');
      const outcomes: Array<'confirmed' | 'rejected' | 'unconfirmed'> = [];
      let isSending = true;
      const sending = (async () => {
        for (let seq = 0; isSending; seq++) {
          try {
            await sender.send(callbackMessage({ url: `https://x.test/?seq=${seq}`, state: 'k' }));
            outcomes[seq] = 'confirmed';
          } catch (error) {
            outcomes[seq] = error instanceof AMQUnconfirmedSendError ? 'unconfirmed' : 'rejected';
            await sleep(10);
          }
        }
      })();
      await sleep(BEFORE_MS);
      await server().kill();
      await sleep(OUTAGE_MS);
      await server().restart();
      const restarted = performance.now();
      const lastBefore = outcomes.length;
      await sleep(AFTER_MS);
      await waitFor(
        () => arrivals.some(({ seq }) => seq > lastBefore),
        'a message sent after the restart',
        30_000,
      );
      isSending = false;
      await sending;
      await sleep(1_000);

      const seqs = arrivals.map(({ seq }) => seq);
      const delivered = new Set(seqs);
      const confirmed = outcomes.flatMap((outcome, seq) => (outcome === 'confirmed' ? [seq] : []));
      const firstAfter = arrivals.find(({ seq, at }) => at > restarted && seq >= lastBefore);
      return {
        sent: outcomes.length,
        confirmed: confirmed.length,
        rejected: outcomes.filter((outcome) => outcome === 'rejected').length,
        unconfirmed: outcomes.filter((outcome) => outcome === 'unconfirmed').length,
        delivered: delivered.size,
        lost: confirmed.filter((seq) => !delivered.has(seq)).length,
        duplicated: seqs.length - delivered.size,
        rejectedYetDelivered: outcomes.filter(
          (outcome, seq) => outcome === 'rejected' && delivered.has(seq),
        ).length,
        recoverySeconds: ((firstAfter?.at ?? Number.NaN) - restarted) / 1000,
        inOrder: seqs.every((seq, index) => index === 0 || seq > seqs[index - 1]!),
      };
    }

    for (const mode of ['core', 'jetstream'] as const) {
      it(`${mode}: ${RUNS} restarts under steady sequential sends`, async () => {
        const all: Figures[] = [];
        for (let i = 0; i < RUNS; i++) {
          const figures = await run(mode);
          all.push(figures);
          reportFigure(
            `nats ${mode} restart ${i + 1}/${RUNS}: sent ${figures.sent}, confirmed ${figures.confirmed}, rejected ${figures.rejected}, unconfirmed ${figures.unconfirmed}, delivered ${figures.delivered}, lost ${figures.lost}, duplicated ${figures.duplicated}, recovered in ${figures.recoverySeconds.toFixed(2)} s`,
          );
        }
        for (const figures of all) {
          expect(figures.duplicated).toBe(0);
          expect(figures.inOrder).toBe(true);
          expect(figures.rejectedYetDelivered).toBe(0);
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
