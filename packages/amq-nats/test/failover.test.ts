import { jetstreamManager } from '@nats-io/jetstream';
import { connect as connectNats } from '@nats-io/transport-node';
import type { AMQHandler } from '@teal/amq-core';
import {
  describeWithCluster,
  formatOutageFigures,
  type OutageFigures,
  randomKey,
  reportFigure,
  sleep,
  steadySends,
  transportOf,
} from '@teal/amq-core/testing';
import { afterAll, afterEach, expect, it } from 'vitest';
import { connect, type NatsMode } from '../src/index';
import type { NatsTransport } from '../src/transport';
import type { JetStreamMode } from '../src/transport-jetstream';
import {
  CLUSTER_URL,
  clusterHosts,
  clusterUnavailable,
  hostOfServerName,
  killServer,
  metaLeaderHost,
  restoreCluster,
  serverOf,
  streamLeaderElectedAt,
  urlStartingAt,
} from './support/cluster';

/** Sends a second: "a few hundred", sequential and awaited. */
const PER_SECOND = 300;
const BEFORE_MS = 2_000;
/** How long sends go on after the kill, before the server is started again. */
const OUTAGE_MS = 10_000;

interface Case {
  readonly mode: NatsMode;
  readonly streamReplicas?: number;
  /** Whose server is killed: the receiver's or the sender's; in jetstream mode, it leads the stream. */
  readonly victim: 'receiver' | 'sender';
  /**
   * In jetstream mode, whether the killed server also leads the JetStream
   * meta group, which a consumer made anew needs: then two elections follow.
   */
  readonly leadsMeta?: boolean;
  /** Every resolved send delivered exactly once, delivery back within 10 s. */
  readonly isRequired: boolean;
}

const CASES: Case[] = [
  { mode: 'jetstream', streamReplicas: 3, victim: 'receiver', isRequired: true },
  { mode: 'jetstream', streamReplicas: 3, victim: 'sender', isRequired: true },
  { mode: 'jetstream', streamReplicas: 3, victim: 'receiver', leadsMeta: true, isRequired: false },
  { mode: 'jetstream', streamReplicas: 1, victim: 'receiver', isRequired: false },
  { mode: 'core', victim: 'receiver', isRequired: false },
  { mode: 'core', victim: 'sender', isRequired: false },
];

describeWithCluster('nats failover on a three-server cluster', await clusterUnavailable(), () => {
  const handlers: AMQHandler[] = [];
  const streams: string[] = [];
  let prefix = '';

  /** A handler whose first server is `host` (the client tries its list in order). */
  async function handlerAt(
    host: string,
    options: Omit<Case, 'victim' | 'isRequired' | 'leadsMeta'>,
  ) {
    const handler = await connect({
      url: urlStartingAt(host),
      exchangePrefix: prefix,
      streamMaxBytes: 64 * 1024 * 1024,
      ...options,
      connectionOptions: { noRandomize: true },
    });
    handlers.push(handler);
    expect(serverOf(handler)).toBe(host);
    return handler;
  }

  /** The server leading the handler's stream. */
  async function streamLeader(handler: AMQHandler): Promise<string> {
    const mode = transportOf<NatsTransport>(handler).mode as JetStreamMode;
    streams.push(mode.stream.name);
    const leader = (await mode.stream.info()).cluster?.leader;
    if (leader === undefined) throw new Error('the stream has no leader');
    return hostOfServerName(leader);
  }

  /**
   * The outage's figures, with how long the servers took to elect the
   * stream's new leader (jetstream mode): delivery cannot resume before.
   */
  async function run({
    victim,
    leadsMeta = false,
    ...options
  }: Case): Promise<OutageFigures & { electionSeconds?: number }> {
    const hosts = clusterHosts();
    let victimHost = hosts[0]!;
    let stream = '';
    if (options.mode === 'jetstream') {
      // The first handler creates the stream; the victim then connects to its leader.
      // Streams land on a server at random: make them until the leader is (or is not)
      // the meta leader as the case says — each is a third of real crashes or two.
      for (let attempt = 1; ; attempt++) {
        prefix = `failover-${randomKey('p')}.`;
        const first = await handlerAt(hosts[0]!, options);
        victimHost = await streamLeader(first);
        stream = streams.at(-1)!;
        await first.close();
        if ((victimHost === (await metaLeaderHost())) === leadsMeta) break;
        if (attempt === 12) throw new Error('could not place the stream as the case needs');
      }
    } else {
      prefix = `failover-${randomKey('p')}.`;
    }
    const otherHost = hosts.find((host) => host !== victimHost)!;
    const receiver = await handlerAt(victim === 'receiver' ? victimHost : otherHost, options);
    const sender = await handlerAt(victim === 'sender' ? victimHost : otherHost, options);
    await receiver.bindCallbackState('k');
    const sends = steadySends(sender, receiver, 'k', PER_SECOND);
    await sleep(BEFORE_MS);
    sends.mark();
    const killedAt = Date.now();
    killServer(victimHost);
    await sleep(OUTAGE_MS);
    await restoreCluster();
    const figures = await sends.finish();
    const electedAt = stream === '' ? undefined : streamLeaderElectedAt(stream, killedAt);
    return electedAt === undefined
      ? figures
      : { ...figures, electionSeconds: (electedAt - killedAt) / 1000 };
  }

  afterEach(async () => {
    await Promise.allSettled(handlers.splice(0).map((handler) => handler.close()));
    await restoreCluster();
  });

  afterAll(async () => {
    const nc = await connectNats({ servers: clusterHosts() });
    const jsm = await jetstreamManager(nc);
    await Promise.allSettled(streams.map((name) => jsm.streams.delete(name)));
    await nc.close();
  });

  for (const testCase of CASES) {
    const { mode, streamReplicas, victim, leadsMeta, isRequired } = testCase;
    const name = `${mode}${streamReplicas ? ` R${streamReplicas}` : ''}${leadsMeta ? ' (stream and meta leader)' : ''}`;
    it(`${name}: the ${victim}'s server killed under steady sends${isRequired ? ': every confirmed send delivered once, back within 10 s' : ' (measured)'}`, async () => {
      const figures = await run(testCase);
      const election =
        figures.electionSeconds === undefined
          ? ''
          : ` (the servers elected the stream's new leader after ${figures.electionSeconds.toFixed(2)} s)`;
      reportFigure(
        `nats failover ${name}, ${victim}'s server killed: ${formatOutageFigures(figures)}${election}`,
      );
      expect(figures.duplicated).toBe(0);
      expect(figures.rejectedYetDelivered).toBe(0);
      expect(figures.inOrder).toBe(true);
      expect(figures.resumeSeconds).toBeLessThan(isRequired ? 10 : 30);
      if (isRequired) {
        expect(figures.lost).toBe(0);
        expect(figures.confirmed).toBeGreaterThan(0);
      }
    }, 60_000);
  }

  it('refuses more stream replicas than the cluster has servers, naming streamReplicas', async () => {
    const connecting = connect({
      url: CLUSTER_URL!,
      exchangePrefix: `failover-${randomKey('p')}.`,
      mode: 'jetstream',
      streamReplicas: 5,
    });
    await expect(connecting).rejects.toMatchObject({ setting: 'streamReplicas' });
    await expect(connecting).rejects.toThrow(/cannot have 5 replicas/);
  });
});
