import {
  describeWithCluster,
  type OutageFigures,
  randomPrefix,
  reportFigure,
  sleep,
  steadySends,
  transportOf,
} from '@teal/amq-core/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { connect } from '../src/index';
import type { QueueType } from '../src/settings';
import type { AmqpTransport } from '../src/transport';
import { deleteExchanges } from './support/broker';
import {
  CLUSTER_URL,
  clusterNodes,
  clusterUnavailable,
  clusterUrlOf,
  killNode,
  restoreCluster,
} from './support/cluster';

/** How many times each case runs: `TEAL_FAILOVER_RUNS` (the README's figures come from several). */
const RUNS = Number(process.env.TEAL_FAILOVER_RUNS ?? 1);
/** Sending before the kill, and after it. */
const BEFORE_MS = 2_000;
const AFTER_MS = 10_000;
/** At most this many awaited sends a second. */
const SENDS_PER_SECOND = 300;

type Victim = 'receiver' | 'sender';

interface Run extends OutageFigures {
  readonly queueType: QueueType;
  readonly victim: Victim;
  readonly killed: string;
  /** The node the victim's handler moved to. */
  readonly movedTo: string | null;
}

const unavailable = await clusterUnavailable();

describeWithCluster('amqp: failover on a three-node RabbitMQ cluster', unavailable, () => {
  const results: Run[] = [];
  /** Whether a test killed a node: it is started again after the test, whatever its outcome. */
  let isNodeDown = false;

  afterEach(async () => {
    if (!isNodeDown) return;
    await restoreCluster();
    isNodeDown = false;
  }, 240_000);

  afterAll(() => {
    if (results.length > 0) console.table(results);
  });

  /**
   * One handler sends to another, bound to the key, one awaited send after
   * the other; the node the victim is connected to is killed (SIGKILL), the
   * sends go on for 10 s; the node starts again after the test. The other handler is
   * connected to the other two nodes only, so that only the victim loses its
   * node.
   */
  async function failover(queueType: QueueType, victim: Victim): Promise<Run> {
    const exchangePrefix = randomPrefix();
    const base = { exchangePrefix, queueType, onError: () => {} };
    const first = await connect({ ...base, url: CLUSTER_URL! });
    const transport = transportOf<AmqpTransport>(first);
    const killed = transport.node!;
    const others = clusterNodes().filter((node) => node !== killed);
    const other = await connect({ ...base, url: clusterUrlOf(others) });
    const [receiver, sender] = victim === 'receiver' ? [first, other] : [other, first];
    try {
      await receiver.bindCallbackState('k');
      const sends = steadySends(sender, receiver, 'k', SENDS_PER_SECOND);
      await sleep(BEFORE_MS);
      isNodeDown = true;
      await killNode(killed);
      sends.mark();
      await sleep(AFTER_MS);
      const figures = await sends.finish();
      return { queueType, victim, killed, movedTo: transport.node, ...figures };
    } finally {
      await Promise.allSettled([receiver.close(), sender.close()]);
      await deleteExchanges([exchangePrefix], clusterUrlOf(others)).catch(() => {});
    }
  }

  function record(run: Run): Run {
    results.push(run);
    reportFigure(`amqp failover ${JSON.stringify(run)}`);
    return run;
  }

  for (let round = 1; round <= RUNS; round++) {
    for (const victim of ['receiver', 'sender'] as const) {
      it(`quorum queues: every confirmed send delivered once when the ${victim}'s node dies (run ${round} of ${RUNS})`, async () => {
        const run = record(await failover('quorum', victim));
        expect(run.movedTo).not.toBeNull();
        expect(run.movedTo).not.toBe(run.killed);
        expect(run.lost).toBe(0);
        expect(run.duplicated).toBe(0);
        // Only a send whose error says it may have been routed can be delivered after rejecting.
        expect(run.rejectedYetDelivered).toBe(0);
        expect(run.resumeSeconds).toBeLessThanOrEqual(10);
      }, 90_000);

      it(`classic queues (the default): what is lost when the ${victim}'s node dies (run ${round} of ${RUNS})`, async () => {
        const run = record(await failover('classic', victim));
        expect(run.movedTo).not.toBeNull();
        expect(run.movedTo).not.toBe(run.killed);
        // Losses are measured (README); the handlers still move and resume, once each.
        expect(run.duplicated).toBe(0);
        expect(run.rejectedYetDelivered).toBe(0);
        expect(run.resumeSeconds).toBeLessThanOrEqual(10);
      }, 90_000);
    }
  }
});
