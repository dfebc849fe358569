import { callbackMessage, type Message } from '@teal/messages';
import { AMQUnconfirmedSendError } from '../errors';
import type { AMQHandler } from '../types';
import { sleep } from './helpers';

/** What a run of steady sends through an outage gave. */
export interface OutageFigures {
  sent: number;
  confirmed: number;
  rejected: number;
  unconfirmed: number;
  /** Distinct sends delivered. */
  delivered: number;
  /** Confirmed sends never delivered. */
  lost: number;
  /** Deliveries beyond the first of a send. */
  duplicated: number;
  /** Rejected sends (not `AMQUnconfirmedSendError`) delivered all the same. */
  rejectedYetDelivered: number;
  /** From `mark()` to the first delivery of a send begun after it. */
  resumeSeconds: number;
  inOrder: boolean;
}

type Outcome = 'confirmed' | 'rejected' | 'unconfirmed';

const seqOf = (message: Message) =>
  message.kind === 'callback' ? Number(new URL(message.url).searchParams.get('seq')) : -1;

/**
 * For restart and failover tests: one handler sends to another on `key`, one awaited `send()` after the
 * other (at most `perSecond` a second, when given), until `finish()`; the
 * receiver must be bound to `key` already. `mark()` notes the moment of an
 * outage (a kill, a restart), from which the resume time counts.
 */
export function steadySends(
  sender: AMQHandler,
  receiver: AMQHandler,
  key: string,
  perSecond = Number.POSITIVE_INFINITY,
) {
  const arrivals: Array<{ seq: number; at: number }> = [];
  receiver.callback = (message) => {
    arrivals.push({ seq: seqOf(message), at: performance.now() });
  };
  const outcomes: Outcome[] = [];
  const started = performance.now();
  let isSending = true;
  let marked = { at: Number.NaN, seq: Number.NaN };
  const sending = (async () => {
    for (let seq = 0; isSending; seq++) {
      const due = started + (seq * 1_000) / perSecond;
      if (due > performance.now()) await sleep(due - performance.now());
      try {
        await sender.send(callbackMessage({ url: `https://x.test/?seq=${seq}`, state: key }));
        outcomes[seq] = 'confirmed';
      } catch (error) {
        outcomes[seq] = error instanceof AMQUnconfirmedSendError ? 'unconfirmed' : 'rejected';
        await sleep(10);
      }
    }
  })();

  return {
    /** The outage starts (or ends) now. */
    mark(): void {
      // The send under way now began before the mark.
      marked = { at: performance.now(), seq: outcomes.length };
    },
    /**
     * Stops sending once a send begun after the mark was delivered (or
     * `settleMs` passed), waits until every confirmed send arrived (at most
     * `settleMs`), and counts.
     */
    async finish(settleMs = 15_000): Promise<OutageFigures> {
      const deadline = performance.now() + settleMs;
      while (!arrivals.some(({ seq }) => seq > marked.seq) && performance.now() < deadline) {
        await sleep(50);
      }
      isSending = false;
      await sending;
      const confirmed = outcomes.flatMap((outcome, seq) => (outcome === 'confirmed' ? [seq] : []));
      const settled = performance.now() + settleMs;
      const isDelivered = () => new Set(arrivals.map(({ seq }) => seq));
      while (confirmed.some((seq) => !isDelivered().has(seq)) && performance.now() < settled) {
        await sleep(100);
      }
      // Late duplicates, if any, would come now.
      await sleep(500);
      const seqs = arrivals.map(({ seq }) => seq);
      const delivered = isDelivered();
      const resumed = arrivals.find(({ seq, at }) => at >= marked.at && seq > marked.seq);
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
        resumeSeconds: ((resumed?.at ?? Number.NaN) - marked.at) / 1000,
        inOrder: seqs.every((seq, index) => index === 0 || seq > seqs[index - 1]!),
      };
    },
  };
}

/** One line of figures for the test's output. */
export function formatOutageFigures(figures: OutageFigures): string {
  return `sent ${figures.sent}, confirmed ${figures.confirmed}, rejected ${figures.rejected}, unconfirmed ${figures.unconfirmed}, delivered ${figures.delivered}, lost ${figures.lost}, duplicated ${figures.duplicated}, rejected yet delivered ${figures.rejectedYetDelivered}, resumed in ${figures.resumeSeconds.toFixed(2)} s`;
}
