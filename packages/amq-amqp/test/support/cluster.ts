import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseSeedUrls } from '@teal/amq-core/adapter';
import { probeRabbit } from './broker';
import { waitForExit } from './server';

const run = promisify(execFile);

/** The three-node cluster of `bash .ci/clusters.sh up rabbitmq`, as its `env` command names it. */
export const CLUSTER_URL = process.env.TEAL_RABBITMQ_CLUSTER_URL;
/** Where the cluster script keeps each node's state and PID file. */
const CLUSTERS_DIR = process.env.TEAL_CLUSTERS_DIR ?? '/tmp/teal-clusters';
const CLUSTERS_SCRIPT = fileURLToPath(new URL('../../../../.ci/clusters.sh', import.meta.url));

/** Why the cluster cannot be used here, or `null` when every node answers. */
export async function clusterUnavailable(): Promise<string | null> {
  if (CLUSTER_URL === undefined || CLUSTER_URL === '') {
    return 'TEAL_RABBITMQ_CLUSTER_URL is not set (bash .ci/clusters.sh up rabbitmq; bash .ci/clusters.sh env)';
  }
  for (const seed of parseSeedUrls(CLUSTER_URL)) {
    const reason = await probeRabbit(seed.toString());
    if (reason !== null) return reason;
  }
  return null;
}

/** `host:port` of each node of the cluster URL. */
export function clusterNodes(): string[] {
  return parseSeedUrls(CLUSTER_URL ?? '').map((seed) => seed.host);
}

/** The cluster URL with only these nodes (`host:port`), credentials, vhost and query kept. */
export function clusterUrlOf(nodes: readonly string[]): string {
  const [first] = parseSeedUrls(CLUSTER_URL ?? '') as [URL];
  const password = first.password === '' ? '' : `:${first.password}`;
  const userinfo = first.username === '' ? '' : `${first.username}${password}@`;
  return `${first.protocol}//${userinfo}${nodes.join(',')}${first.pathname}${first.search}`;
}

/** Kills a node of the cluster (`host:port`) with SIGKILL, as a crash would; resolves once it is gone. */
export async function killNode(node: string): Promise<void> {
  const pid = await pidOf(node);
  process.kill(pid, 'SIGKILL');
  if (!(await waitForExit(pid))) throw new Error(`RabbitMQ node ${node} (pid ${pid}) did not die`);
}

/** Starts what is down of the cluster again and waits until it is whole (`clusters.sh up rabbitmq`). */
export async function restoreCluster(): Promise<void> {
  await run('bash', [CLUSTERS_SCRIPT, 'up', 'rabbitmq'], { timeout: 180_000 });
}

/**
 * The PID of the node serving `host:port`: the Erlang VM whose environment
 * names that port (a PID file may be gone: a second start of a node that was
 * slow to answer fails and removes it), else its directory's PID file.
 */
async function pidOf(node: string): Promise<number> {
  const port = node.slice(node.lastIndexOf(':') + 1);
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const environment = await readFile(join('/proc', entry, 'environ'), 'latin1').catch(() => '');
    if (!environment.split('\0').includes(`RABBITMQ_NODE_PORT=${port}`)) continue;
    const command = await readFile(join('/proc', entry, 'cmdline'), 'latin1').catch(() => '');
    if (command.startsWith('/') && command.split('\0')[0]!.endsWith('beam.smp')) {
      return Number(entry);
    }
  }
  const home = join(CLUSTERS_DIR, 'rabbitmq');
  for (const entry of await readdir(home)) {
    if (!entry.startsWith('node')) continue;
    const config = await readFile(join(home, entry, 'rabbitmq.conf'), 'utf8').catch(() => '');
    if (!config.includes(`:${port}\n`)) continue;
    const pid = Number.parseInt(await readFile(join(home, entry, 'rabbit.pid'), 'utf8'), 10);
    if (Number.isInteger(pid) && pid > 0) return pid;
  }
  throw new Error(`no RabbitMQ node found serving port ${port} (under ${home} or in /proc)`);
}
