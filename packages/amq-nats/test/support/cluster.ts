import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { AMQHandler } from '@teal/amq-core';
import { probeBroker, transportOf } from '@teal/amq-core/testing';
import type { NatsTransport } from '../../src/transport';

/**
 * The three-server cluster of `.ci/clusters.sh` (`bash .ci/clusters.sh env`
 * prints its URL); this package's tests alone kill its servers.
 */
export const CLUSTER_URL = process.env.TEAL_NATS_CLUSTER_URL;
const CLUSTERS_DIR = process.env.TEAL_CLUSTERS_DIR ?? '/tmp/teal-clusters';
const REPOSITORY = resolve(fileURLToPath(import.meta.url), '../../../../..');

/** Why the cluster cannot be used, or `null`. */
export async function clusterUnavailable(): Promise<string | null> {
  if (CLUSTER_URL === undefined) {
    return 'TEAL_NATS_CLUSTER_URL is not set (bash .ci/clusters.sh up nats, then eval "$(bash .ci/clusters.sh env)")';
  }
  for (const host of clusterHosts()) {
    const unavailable = await probeBroker(`nats://${host}`);
    if (unavailable !== null) return unavailable;
  }
  return null;
}

/** The `host:port` of every server the cluster URL lists. */
export function clusterHosts(): string[] {
  const url = CLUSTER_URL ?? '';
  const authority = url.slice(url.indexOf('://') + 3).split(/[/?#]/)[0] ?? '';
  return authority.slice(authority.lastIndexOf('@') + 1).split(',');
}

/** The cluster URL with `host` first, for a handler that must start on that server. */
export function urlStartingAt(host: string): string {
  const url = CLUSTER_URL ?? '';
  const others = clusterHosts().filter((other) => other !== host);
  return url.replace(clusterHosts().join(','), [host, ...others].join(','));
}

/** The `host:port` a handler is connected to now. */
export function serverOf(handler: AMQHandler): string {
  return transportOf<NatsTransport>(handler).link.nc.getServer();
}

/** The `host:port` of the server named `name` (a stream's leader), through the client's view. */
export function hostOfServerName(name: string): string {
  const node = nodeDirectories().find(({ config }) => config.includes(`server_name: ${name}\n`));
  if (node === undefined) throw new Error(`no server of the cluster is named ${name}`);
  return node.host;
}

/** Kills the server listening on `host` as a crash would: SIGKILL to the PID of its PID file. */
export function killServer(host: string): void {
  const node = nodeDirectories().find((candidate) => candidate.host === host);
  if (node === undefined) throw new Error(`no server of the cluster listens on ${host}`);
  process.kill(Number(readFileSync(join(node.dir, 'nats.pid'), 'utf8').trim()), 'SIGKILL');
}

/** Starts what is down again and waits until the cluster is healthy (routes and a meta leader). */
export async function restoreCluster(): Promise<void> {
  await promisify(execFile)('bash', ['.ci/clusters.sh', 'up', 'nats'], {
    cwd: REPOSITORY,
    timeout: 120_000,
  });
}

/** The server directories of `.ci/clusters.sh`: each holds server.conf and nats.pid. */
function nodeDirectories(): Array<{ dir: string; config: string; host: string }> {
  const root = join(CLUSTERS_DIR, 'nats');
  return readdirSync(root)
    .filter((name) => name.startsWith('node'))
    .map((name) => {
      const dir = join(root, name);
      const config = readFileSync(join(dir, 'server.conf'), 'utf8');
      const host = /^listen: (\S+)$/m.exec(config)?.[1] ?? '';
      return { dir, config, host };
    });
}
