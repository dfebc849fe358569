import { connect as connectAmqp } from '@teal/amq-amqp';
import { redactUrl } from '@teal/amq-core';
import { probeBroker } from '@teal/amq-core/testing';
import { connect as connectNats } from '@teal/amq-nats';
import { connect as connectRedis } from '@teal/amq-redis-streams';
import { removingStreams } from './leftovers';
import { handlerPeer, type PeerFactory } from './peer';
import { formatSpread, type Row } from './report';
import type { Results } from './results';
import type { BenchTarget, Connect } from './targets';

/** A broker cluster as `pnpm bench --cluster` sees it, beside the single node it is compared with. */
export interface ClusterTarget extends BenchTarget {
  /** The single-node target of the main run whose figures stand beside these. */
  readonly single: string;
  /** The URL, password masked, for the report. */
  readonly where: string;
}

/**
 * The clusters `bash .ci/clusters.sh up` starts, by the variables `bash .ci/clusters.sh env`
 * prints. Each connects through its adapter package, which reads several seeds in its URL
 * (core's `connect()` takes one host per URL).
 */
const CLUSTERS: ReadonlyArray<{
  name: string;
  single: string;
  variable: string;
  connect: Connect;
  /** Its handlers leave a JetStream stream per prefix, which the run deletes. */
  keepsStreams?: true;
}> = [
  {
    name: 'amqp (3 nodes)',
    single: 'amqp',
    variable: 'TEAL_RABBITMQ_CLUSTER_URL',
    connect: connectAmqp,
  },
  {
    name: 'redis (cluster, 3 masters)',
    single: 'redis',
    variable: 'TEAL_REDIS_CLUSTER_URL',
    connect: connectRedis,
  },
  {
    name: 'redis (sentinel, 3 nodes)',
    single: 'redis',
    variable: 'TEAL_REDIS_SENTINEL_URL',
    connect: connectRedis,
  },
  {
    name: 'nats (3 nodes)',
    single: 'nats',
    variable: 'TEAL_NATS_CLUSTER_URL',
    connect: connectNats,
  },
  {
    name: 'nats (durable, 3 nodes)',
    single: 'nats (durable)',
    variable: 'TEAL_NATS_CLUSTER_URL',
    connect: (options) => connectNats({ ...options, mode: 'jetstream' }),
    keepsStreams: true,
  },
];

/**
 * Every cluster target, its URL read from the environment: the adapter as
 * that URL configures it (seeds, and whatever replication its parameters
 * ask for). A variable that is not set makes its target skip, saying so.
 */
export function clusterTargets(env: NodeJS.ProcessEnv = process.env): ClusterTarget[] {
  return CLUSTERS.map((cluster) => {
    const url = env[cluster.variable];
    const adapter: PeerFactory = async (exchangePrefix) =>
      handlerPeer(await cluster.connect({ url: url ?? '', exchangePrefix }));
    const streams =
      cluster.keepsStreams && url !== undefined ? removingStreams(seedsOf(url)) : null;
    return {
      name: cluster.name,
      single: cluster.single,
      where: url === undefined ? `${cluster.variable} not set` : redactUrl(url),
      unavailable: () =>
        url === undefined
          ? Promise.resolve(`${cluster.variable} is not set (bash .ci/clusters.sh env prints it)`)
          : probeSeeds(url),
      adapter: streams?.track(adapter) ?? adapter,
      raw: null,
      ...(streams !== null && { cleanUp: streams.cleanUp }),
    };
  });
}

/**
 * Whether any seed of a URL that may list several (`amqp://u:p@h1:5701,h2:5702/`)
 * answers on its TCP port: `null` when one does, otherwise the first reason.
 */
export async function probeSeeds(url: string): Promise<string | null> {
  const scheme = url.indexOf('://');
  if (scheme < 1) return 'the cluster URL is not valid';
  const reasons = await Promise.all(
    seedsOf(url).map((seed) => probeBroker(`${url.slice(0, scheme)}://${seed}`)),
  );
  return reasons.includes(null) ? null : (reasons[0] ?? 'the cluster URL names no host');
}

/** The `host:port` of each server named by a URL that may list several. */
export function seedsOf(url: string): string[] {
  const rest = url.slice(url.indexOf('://') + 3);
  const ends = ['/', '?', '#'].map((c) => rest.indexOf(c)).filter((at) => at >= 0);
  const authority = rest.slice(0, Math.min(rest.length, ...ends));
  return authority.slice(authority.lastIndexOf('@') + 1).split(',');
}

/** The figures compared: what one node and three give a relay. */
const FIGURES = [
  { scenario: 'throughput', figure: 'msgs/s' },
  { scenario: 'latency', figure: 'p50 µs' },
  { scenario: 'latency', figure: 'p99 µs' },
] as const;

/**
 * The cluster section of BENCHMARKS.md: per cluster target of
 * `results-cluster.json`, throughput, p50 and p99 of the adapter on three
 * nodes beside the same figures of the main run on one node.
 */
export function clusterMarkdown(single: readonly Row[], cluster: Results | null): string[] {
  if (cluster === null) return [];
  const lines = [
    '## One node and three',
    '',
    `\`pnpm bench --cluster\` on ${cluster.date}, ${cluster.rounds} round${cluster.rounds === 1 ? '' : 's'}: the adapters against the`,
    'clusters of `bash .ci/clusters.sh up` (all nodes on this same machine, so replication costs CPU',
    'here that it would spread over hosts in production), beside the main run on one node. Each',
    'cell: median (min – max); the ratio is three nodes ÷ one.',
    '',
  ];
  for (const skip of cluster.skipped ?? []) lines.push(`- ${skip.target}: skipped, ${skip.reason}`);
  for (const [name, where] of Object.entries(cluster.targets ?? {})) {
    lines.push(`- ${name}: \`${where}\``);
  }
  lines.push(
    '',
    '| cluster | figure | one node | three nodes | ratio |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const target of [...new Set(cluster.rows.map((row) => row.target))]) {
    const singleName = CLUSTERS.find((c) => c.name === target)?.single ?? target;
    for (const { scenario, figure } of FIGURES) {
      const find = (rows: readonly Row[], name: string) =>
        rows.find((r) => r.target === name && r.scenario === scenario && r.figure === figure)
          ?.adapter ?? null;
      const one = find(single, singleName);
      const three = find(cluster.rows, target);
      if (three === null) continue;
      const ratio = one === null ? '–' : (three.median / one.median).toFixed(2);
      lines.push(
        `| ${target} | ${figure} | ${formatSpread(one)} | ${formatSpread(three)} | ${ratio} |`,
      );
    }
  }
  lines.push('');
  return lines;
}
