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

/**
 * The `host:port` of the server leading the JetStream meta group (the one
 * that places new streams and consumers), from a server's monitoring port.
 */
export async function metaLeaderHost(): Promise<string> {
  for (const { config } of nodeDirectories()) {
    const http = /^http: (\S+)$/m.exec(config)?.[1];
    if (http === undefined) continue;
    try {
      const response = await fetch(`http://${http}/jsz`);
      const leader = ((await response.json()) as { meta_cluster?: { leader?: string } })
        .meta_cluster?.leader;
      if (leader) return hostOfServerName(leader);
    } catch {
      // That server is down: ask the next.
    }
  }
  throw new Error('no server of the cluster names a JetStream meta leader');
}

/** Kills the server listening on `host` as a crash would: SIGKILL to the PID of its PID file. */
export function killServer(host: string): void {
  const node = nodeDirectories().find((candidate) => candidate.host === host);
  if (node === undefined) throw new Error(`no server of the cluster listens on ${host}`);
  process.kill(Number(readFileSync(join(node.dir, 'nats.pid'), 'utf8').trim()), 'SIGKILL');
}

/**
 * When the cluster's servers logged a new leader for the stream `stream` (the
 * JetStream stream's name) at or after `since` (epoch ms), or `undefined`: how
 * long the server's own election took, read from the servers' logs so that
 * watching it costs the election nothing. nats-server writes local time to
 * the microsecond.
 */
export function streamLeaderElectedAt(stream: string, since: number): number | undefined {
  const event = ` [INF] JetStream cluster new stream leader for '$G > ${stream}'`;
  const stamp = /^\[\d+\] (\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3})/;
  const times = nodeDirectories().flatMap(({ dir }) =>
    readFileSync(join(dir, 'nats.log'), 'utf8')
      .split('\n')
      .flatMap((line) => {
        const parts = line.endsWith(event) ? stamp.exec(line)?.slice(1).map(Number) : undefined;
        if (parts === undefined) return [];
        const [year, month, day, hour, minute, second, milli] = parts;
        return [new Date(year!, month! - 1, day, hour, minute, second, milli).getTime()];
      }),
  );
  return times.filter((time) => time >= since).sort((a, b) => a - b)[0];
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
