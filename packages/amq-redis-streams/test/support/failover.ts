import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { AMQHandler } from '@teal/amq-core';
import { parseSeedUrl } from '@teal/amq-core/adapter';
import { probeBroker, randomPrefix, reportFigure, sleep, waitFor } from '@teal/amq-core/testing';
import { callbackMessage } from '@teal/messages';
import { Cluster, Redis } from 'ioredis';
import { connect, type RedisStreamsConnectOptions } from '../../src/index';
import { StreamKeys } from '../../src/names';

const run = promisify(execFile);

/** The script that starts the clusters, and restarts a node a test killed. */
const CLUSTERS_SCRIPT = resolve(import.meta.dirname, '../../../../.ci/clusters.sh');
/** Where the script keeps each node's state and PID file. */
const CLUSTERS_DIR = process.env.TEAL_CLUSTERS_DIR ?? join(tmpdir(), 'teal-clusters');

/** A cluster to fail over: how to find the master the handlers use, its PID, and how to restore it. */
export interface FailoverTarget {
  readonly name: 'redis-cluster' | 'sentinel';
  /** The URL the handlers connect with. */
  readonly url: string;
  /** The port of the master that holds the streams of `exchangePrefix` now. */
  masterPort(exchangePrefix: string): Promise<number>;
  /** The ports of that master's replicas. */
  replicaPorts(exchangePrefix: string): Promise<number[]>;
  /** The PID file of the Redis on `port`, as the clusters script writes it. */
  pidFile(port: number): string;
  /** Resolves once every node is back, replicas in sync. */
  isHealthy(): Promise<boolean>;
}

/** Why the cluster at `url` cannot be tested, or null. */
export async function clusterUnavailable(
  variable: string,
  url: string | undefined,
): Promise<string | null> {
  if (url === undefined || url === '') return `${variable} is not set`;
  const { hosts } = parseSeedUrl(url);
  const host = hosts[0]!;
  const unavailable = await probeBroker(`redis://${host.hostname}:${host.port || 6379}`);
  return unavailable === null ? null : `${variable}: ${unavailable}`;
}

function seeds(url: string): { host: string; port: number }[] {
  return parseSeedUrl(url).hosts.map((host) => ({ host: host.hostname, port: Number(host.port) }));
}

/** The ports of the master of the slot of a prefix's streams, then of its replicas. */
function slotNodes(exchangePrefix: string): (admin: Cluster) => Promise<number[]> {
  return async (admin) => {
    const slot = Number(await admin.cluster('KEYSLOT', new StreamKeys(exchangePrefix, 1).base));
    const ranges = await admin.cluster('SLOTS');
    const range = ranges.find(([from, to]) => from <= slot && slot <= to);
    if (range === undefined) throw new Error(`no master serves slot ${slot}`);
    const [, , ...nodes] = range;
    return nodes.map((node) => Number(node[1]));
  };
}

/** A Redis Cluster of the clusters script (`bash .ci/clusters.sh up redis-cluster`). */
export function redisClusterTarget(url: string): FailoverTarget {
  const ask = async <T>(question: (admin: Cluster) => Promise<T>): Promise<T> => {
    const admin = new Cluster(seeds(url), { clusterRetryStrategy: () => null });
    admin.on('error', () => {});
    try {
      return await question(admin);
    } finally {
      admin.disconnect();
    }
  };
  return {
    name: 'redis-cluster',
    url,
    masterPort: async (exchangePrefix) => (await ask(slotNodes(exchangePrefix)))[0]!,
    replicaPorts: async (exchangePrefix) => (await ask(slotNodes(exchangePrefix))).slice(1),
    pidFile: (port) => join(CLUSTERS_DIR, 'redis-cluster', String(port), 'redis.pid'),
    isHealthy: async () => {
      try {
        await run('bash', [CLUSTERS_SCRIPT, 'up', 'redis-cluster'], { timeout: 60_000 });
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** A master under Sentinels of the clusters script (`bash .ci/clusters.sh up sentinel`). */
export function sentinelTarget(url: string): FailoverTarget {
  const sentinels = seeds(url);
  const name = new URL(parseSeedUrl(url).url).pathname.split('/')[1]!;
  const askSentinels = async <T>(question: (sentinel: Redis) => Promise<T>): Promise<T> => {
    for (const sentinel of sentinels) {
      const client = new Redis({ ...sentinel, retryStrategy: () => null, lazyConnect: true });
      client.on('error', () => {});
      try {
        await client.connect();
        return await question(client);
      } catch {
        // The next sentinel.
      } finally {
        client.disconnect();
      }
    }
    throw new Error('no sentinel answers');
  };
  const master = () =>
    askSentinels(async (client) => {
      const reply = (await client.call('SENTINEL', 'get-master-addr-by-name', name)) as string[];
      return Number(reply[1]);
    });
  return {
    name: 'sentinel',
    url,
    masterPort: () => master(),
    replicaPorts: () =>
      askSentinels(async (client) => {
        const replicas = (await client.call('SENTINEL', 'replicas', name)) as string[][];
        // Each replica is a flat list of names and values; those the sentinels see up.
        const fields = replicas.map((replica) => new Map(pairs(replica)));
        return fields
          .filter((replica) => !replica.get('flags')?.includes('down'))
          .map((replica) => Number(replica.get('port')));
      }),
    pidFile: (port) => join(CLUSTERS_DIR, 'sentinel', `redis-${port}`, 'redis.pid'),
    isHealthy: async () => {
      try {
        await run('bash', [CLUSTERS_SCRIPT, 'up', 'sentinel'], { timeout: 60_000 });
        // The script counts replicas the sentinels know; the master must have both in sync.
        const client = new Redis({ port: await master(), retryStrategy: () => null });
        client.on('error', () => {});
        try {
          const info = await client.info('replication');
          return /^connected_slaves:2\r?$/m.test(info) && !/state=(?!online)/.test(info);
        } finally {
          client.disconnect();
        }
      } catch {
        return false;
      }
    },
  };
}

function pairs(list: readonly string[]): [string, string][] {
  return Array.from({ length: list.length / 2 }, (_, i) => [list[2 * i]!, list[2 * i + 1]!]);
}

/** What a failover run measured. */
export interface FailoverFigures {
  readonly sent: number;
  readonly confirmed: number;
  readonly rejected: number;
  /** Distinct messages delivered. */
  readonly delivered: number;
  /** Confirmed sends never delivered. */
  readonly lost: number;
  /** Deliveries beyond the first of a message. */
  readonly duplicated: number;
  /** Rejected sends delivered all the same (each an `AMQUnconfirmedSendError`, which says it may be). */
  readonly rejectedButDelivered: number;
  /** From the kill to the first delivery of a probe sent after it (a send every PROBE_MS from a third handler). */
  readonly resumeSeconds: number;
  /** From the kill to the first confirmed send made after it (Infinity: none). */
  readonly confirmSeconds: number;
  /** The rejections' error classes and how many of each. */
  readonly rejections: Readonly<Record<string, number>>;
}

/**
 * Waits until the cluster is healthy, then opens handlers on it, on one fresh
 * prefix, their errors unreported (a failover reports many): close `handlers` after.
 */
async function handlersOn(target: FailoverTarget): Promise<{
  open(options: Partial<RedisStreamsConnectOptions>): Promise<AMQHandler>;
  handlers: AMQHandler[];
  exchangePrefix: string;
}> {
  await waitFor(() => target.isHealthy(), `${target.name} to be healthy`, 90_000, 1_000);
  const exchangePrefix = randomPrefix();
  const handlers: AMQHandler[] = [];
  const open = async (options: Partial<RedisStreamsConnectOptions>) => {
    const handler = await connect({ url: target.url, exchangePrefix, ...options });
    handler.onError = () => {};
    handlers.push(handler);
    return handler;
  };
  return { open, handlers, exchangePrefix };
}

/** How long the sender keeps sending after the kill, and the pace of its sequential awaited sends. */
const AFTER_KILL_MS = 10_000;
const BEFORE_KILL_MS = 2_000;
const SENDS_PER_SECOND = 300;
const PROBE_MS = 50;

/**
 * Binds a key on one handler, sends to it from another — sequential awaited
 * sends, SENDS_PER_SECOND at most —, SIGKILLs the master both use, keeps
 * sending AFTER_KILL_MS, then while the node is restored with the clusters
 * script, until a send made after the kill is confirmed (15 s at most), and
 * waits for the deliveries to settle. What was sent, confirmed, delivered,
 * lost and duplicated, and how soon delivery and confirmations resumed.
 */
export async function runFailover(
  target: FailoverTarget,
  options: Partial<RedisStreamsConnectOptions>,
): Promise<FailoverFigures> {
  const { open, handlers, exchangePrefix } = await handlersOn(target);
  try {
    const receiver = await open(options);
    const sender = await open(options);
    const deliveries = new Map<number, number>();
    const deliveredAt = new Map<number, number>();
    // A probe from a third handler, every PROBE_MS whatever the sender waits for: when delivery resumed.
    const probe = await open(options);
    let probeResumedAt = Number.POSITIVE_INFINITY;
    receiver.callback = (message) => {
      if (message.kind !== 'callback') return;
      const n = Number(new URL(message.url).searchParams.get('n'));
      if (message.state === 'probe') {
        if (n >= killedAt && probeResumedAt === Number.POSITIVE_INFINITY)
          probeResumedAt = Date.now();
        return;
      }
      deliveries.set(n, (deliveries.get(n) ?? 0) + 1);
      if (!deliveredAt.has(n)) deliveredAt.set(n, Date.now());
    };
    await receiver.bindCallbackState('failover');
    await receiver.bindCallbackState('probe');
    const probing = setInterval(() => {
      const url = `https://x.test/cb?n=${Date.now()}`;
      probe.send(callbackMessage({ url, state: 'probe' })).catch(() => {});
    }, PROBE_MS);

    const startedAt: number[] = [];
    const confirmedAt = new Map<number, number>();
    const rejections = new Map<number, string>();
    let killedAt = Number.POSITIVE_INFINITY;
    let stopAt = Number.POSITIVE_INFINITY;
    const begin = Date.now();
    const sending = (async () => {
      for (let n = 0; Date.now() < stopAt; n++) {
        const due = begin + (n * 1_000) / SENDS_PER_SECOND;
        if (due > Date.now()) await sleep(due - Date.now());
        startedAt.push(Date.now());
        try {
          await sender.send(
            callbackMessage({ url: `https://x.test/cb?n=${n}`, state: 'failover' }),
          );
          confirmedAt.set(n, Date.now());
        } catch (error) {
          rejections.set(n, (error as Error).name);
        }
      }
    })();

    // Enough confirmed sends before the kill for the run to mean something, however slow the machine.
    await sleep(BEFORE_KILL_MS);
    await waitFor(() => confirmedAt.size >= 100, '100 confirmed sends before the kill', 30_000);
    const port = await target.masterPort(exchangePrefix);
    const pid = Number((await readFile(target.pidFile(port), 'utf8')).trim());
    process.kill(pid, 'SIGKILL');
    killedAt = Date.now();
    await sleep(AFTER_KILL_MS);
    // Sending on while the node comes back, and until a send made after the kill is confirmed:
    // with durability 'replicated', that needs a replica again.
    const restoring = Date.now();
    await waitFor(() => target.isHealthy(), `${target.name} to be restored`, 90_000, 1_000);
    const restoreSeconds = (Date.now() - restoring) / 1_000;
    const isConfirmedAgain = () => [...confirmedAt.keys()].some((n) => startedAt[n]! >= killedAt);
    await waitFor(isConfirmedAgain, 'a send confirmed after the kill', 15_000, 100).catch(() => {});
    stopAt = Date.now();
    await sending;
    clearInterval(probing);
    // Settled: every confirmed send delivered, or nothing new for three seconds.
    let last = -1;
    let quietSince = Date.now();
    await waitFor(
      () => {
        const count = [...deliveries.values()].reduce((sum, times) => sum + times, 0);
        if (count !== last) quietSince = Date.now();
        last = count;
        const pending = [...confirmedAt.keys()].some((n) => !deliveries.has(n));
        return !pending || Date.now() - quietSince > 3_000;
      },
      'the deliveries to settle',
      30_000,
      100,
    );

    const confirmedAgainAt = Math.min(
      ...[...confirmedAt].filter(([n]) => startedAt[n]! >= killedAt).map(([, time]) => time),
    );
    const counts: Record<string, number> = {};
    for (const name of rejections.values()) counts[name] = (counts[name] ?? 0) + 1;
    const figures: FailoverFigures = {
      sent: startedAt.length,
      confirmed: confirmedAt.size,
      rejected: rejections.size,
      delivered: deliveries.size,
      lost: [...confirmedAt.keys()].filter((n) => !deliveries.has(n)).length,
      duplicated: [...deliveries.values()].reduce((sum, times) => sum + times - 1, 0),
      rejectedButDelivered: [...rejections.keys()].filter((n) => deliveries.has(n)).length,
      resumeSeconds: (probeResumedAt - killedAt) / 1_000,
      confirmSeconds: (confirmedAgainAt - killedAt) / 1_000,
      rejections: counts,
    };
    reportFigure(
      `redis-streams failover (${target.name}, durability ${options.durability ?? 'primary'}, killed the master on port ${port}): ${JSON.stringify(figures)}, restored in ${restoreSeconds.toFixed(1)} s`,
    );
    return figures;
  } finally {
    await Promise.allSettled(handlers.map((handler) => handler.close()));
  }
}

/** What a run with a lagging replica measured. */
export interface LagFigures {
  readonly sent: number;
  readonly confirmed: number;
  /** Confirmed sends the receiver never got. */
  readonly lost: number;
  readonly delivered: number;
}

/**
 * The case `WAIT` is for: the receiver's callback is stuck, so that it
 * reads nothing; IN_STEP_MESSAGES are sent while the replicas keep up, then
 * LAG_MESSAGES while they are stopped (SIGSTOP), more than the sockets
 * between master and replica hold; the master dies (SIGKILL), the replicas
 * resume and one is promoted, and the callback is released. What was
 * confirmed and lost.
 */
export async function runLaggingReplica(
  target: FailoverTarget,
  options: Partial<RedisStreamsConnectOptions>,
): Promise<LagFigures> {
  const { open, handlers, exchangePrefix } = await handlersOn(target);
  const stopped: number[] = [];
  try {
    const receiver = await open({ maxBacklog: 10 });
    const sender = await open({ sendTimeoutMs: 3_000, ...options });
    // Opened now: connecting while the master is dead fails.
    const probe = await open({ sendTimeoutMs: 5_000 });
    let release = () => {};
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    const delivered = new Set<number>();
    receiver.callback = async (message) => {
      if (message.kind === 'callback')
        delivered.add(Number(new URL(message.url).searchParams.get('n')));
      await stuck;
    };
    await receiver.bindCallbackState('lag');
    const master = await target.masterPort(exchangePrefix);
    const pidOf = async (port: number) =>
      Number((await readFile(target.pidFile(port), 'utf8')).trim());
    const padding = 'x'.repeat(LAG_BODY_BYTES);
    const confirmed = new Set<number>();
    const send = (n: number) =>
      sender
        .send(callbackMessage({ url: `https://x.test/cb?n=${n}&p=${padding}`, state: 'lag' }))
        .then(() => confirmed.add(n));
    // Replicas in step: what resolves is on them.
    for (let n = 0; n < IN_STEP_MESSAGES; n += 50) {
      await Promise.allSettled(Array.from({ length: 50 }, (_, i) => send(n + i)));
    }
    for (const port of await target.replicaPorts(exchangePrefix)) {
      const pid = await pidOf(port);
      process.kill(pid, 'SIGSTOP');
      stopped.push(pid);
    }
    // Replicas stopped: the master has these, its replicas at most what the sockets hold.
    // Each resolves (on the master) or rejects (no replica confirmed it before its deadline).
    await Promise.allSettled(
      Array.from({ length: LAG_MESSAGES }, (_, i) => send(IN_STEP_MESSAGES + i)),
    );
    process.kill(await pidOf(master), 'SIGKILL');
    for (const pid of stopped.splice(0)) process.kill(pid, 'SIGCONT');
    release();
    // A replica took over once a write goes through again; then every confirmed send is
    // delivered, or nothing new comes for three seconds.
    await waitFor(
      () =>
        probe.send(callbackMessage({ url: 'https://x.test/cb?n=-1', state: 'probe' })).then(
          () => true,
          () => false,
        ),
      'a write to go through after the failover',
      60_000,
    );
    let last = -1;
    let quietSince = Date.now();
    await waitFor(
      () => {
        if (delivered.size !== last) quietSince = Date.now();
        last = delivered.size;
        return [...confirmed].every((n) => delivered.has(n)) || Date.now() - quietSince > 3_000;
      },
      'the deliveries to settle',
      60_000,
      100,
    );
    const figures: LagFigures = {
      sent: IN_STEP_MESSAGES + LAG_MESSAGES,
      confirmed: confirmed.size,
      lost: [...confirmed].filter((n) => !delivered.has(n)).length,
      delivered: delivered.size,
    };
    reportFigure(
      `redis-streams lagging replica (${target.name}, durability ${options.durability ?? 'primary'}): ${JSON.stringify(figures)}`,
    );
    return figures;
  } finally {
    for (const pid of stopped) process.kill(pid, 'SIGCONT');
    await Promise.allSettled(handlers.map((handler) => handler.close()));
    await waitFor(() => target.isHealthy(), `${target.name} to be restored`, 90_000, 1_000);
  }
}

/** Sent while the replicas keep up, then while they are stopped: more than the sockets between master and replica hold on loopback (a few MiB each way). */
const IN_STEP_MESSAGES = 200;
const LAG_MESSAGES = 800;
const LAG_BODY_BYTES = 32 * 1024;
