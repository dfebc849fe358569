import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { randomPrefix, waitFor } from '@teal/amq-core/testing';
import { BROKER_URLS } from '../test/helpers/brokers';
import { type DemoProcess, startDemoProcess } from '../test/helpers/process';
import { deleteRabbitExchanges } from '../test/helpers/rabbit';
import { drive } from './drive';
import type { BrokerName, DriveFigures, LoadRow } from './results';
import { openSocketPool, type WaitingSocket } from './sockets';

/** A broker the load test runs on, with the URL the tests use for it. */
export interface LoadBroker {
  readonly name: BrokerName;
  readonly url: string;
}

export const BROKERS: readonly LoadBroker[] = [
  { name: 'memory', url: 'memory://loadtest' },
  { name: 'amqp', url: BROKER_URLS.amqp },
  { name: 'redis', url: BROKER_URLS.redis },
  { name: 'nats', url: BROKER_URLS.nats },
  { name: 'postgres', url: BROKER_URLS.postgres },
];

export interface LoadOptions {
  readonly sockets: number;
  readonly durationSeconds: number;
  readonly connections: number;
  /** One socket in this many also waits on a Powens domain of its own. */
  readonly domainEvery: number;
  readonly report?: (line: string) => void;
}

const PASSWORD = 'loadtest-password';

/** The resident memory of a process, from `/proc/<pid>/status`, in bytes. */
function residentBytes(pid: number): number {
  const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (line === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(line[1]) * 1024;
}

/**
 * Starts the service on one broker (dispatcher and listener as two processes,
 * or one process for `memory://`), opens the waiting sockets, drives
 * `/callback` then `/powens-webhook/…` with autocannon, and counts what reached
 * each socket.
 */
export async function runLoad(broker: LoadBroker, options: LoadOptions): Promise<LoadRow> {
  const report = options.report ?? (() => {});
  const loadAtStart = loadavg()[0]!;
  const prefix = randomPrefix();
  const runId = Math.random().toString(36).slice(2, 8);
  const env = {
    AMQP_URL: broker.url,
    AMQP_EXCHANGE_PREFIX: prefix,
    HOST: '127.0.0.1',
    PORT: '0',
    DISPATCHER_PASSWORD: PASSWORD,
    // One log line per request at info would measure the log pipe.
    LOG_LEVEL: 'warn',
    MAX_WEBSOCKETS: String(options.sockets + 100),
    MAX_CONNECTIONS_PER_IP: '0',
    RATE_LIMIT_PER_MINUTE: '0',
  };
  const processes: DemoProcess[] = [];
  let pool: Awaited<ReturnType<typeof openSocketPool>> | null = null;
  try {
    let dispatcher: DemoProcess;
    let listener: DemoProcess;
    if (broker.name === 'memory') {
      dispatcher = await startDemoProcess('both', env);
      listener = dispatcher;
      processes.push(dispatcher);
    } else {
      const started = await Promise.allSettled([
        startDemoProcess('dispatcher', env),
        startDemoProcess('listener', env),
      ]);
      for (const result of started) if (result.status === 'fulfilled') processes.push(result.value);
      const failure = started.find((result) => result.status === 'rejected');
      if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
      [dispatcher, listener] = processes as [DemoProcess, DemoProcess];
    }
    const dispatcherRssBefore = residentBytes(dispatcher.pid);
    const openStart = performance.now();
    pool = await openSocketPool({
      dispatcherUrl: dispatcher.url,
      password: PASSWORD,
      count: options.sockets,
      domainEvery: options.domainEvery,
      runId,
    });
    const secondsToOpenSockets = (performance.now() - openStart) / 1000;
    const dispatcherRssAfter = residentBytes(dispatcher.pid);
    const sockets = pool.sockets;
    const withDomain = sockets.filter(
      (socket): socket is WaitingSocket & { domain: string } => socket.domain !== null,
    );
    report(
      `${broker.name}: ${sockets.length} sockets registered in ${secondsToOpenSockets.toFixed(1)} s, dispatcher RSS ${mb(dispatcherRssBefore)} -> ${mb(dispatcherRssAfter)} MB`,
    );

    const callbacks = {
      succeeded: new Map<string, number>(),
      attempted: new Map<string, number>(),
    };
    const callback = await drive({
      url: listener.url,
      connections: options.connections,
      durationSeconds: options.durationSeconds,
      succeededPerKey: callbacks.succeeded,
      attemptedPerKey: callbacks.attempted,
      request: (n) => {
        const socket = sockets[n % sockets.length]!;
        return { path: `/callback?state=${socket.state}&code=c${n}`, key: socket.state };
      },
    });
    report(`${broker.name}: /callback ${summarize(callback)}`);
    const webhooks = { succeeded: new Map<string, number>(), attempted: new Map<string, number>() };
    const webhook = await drive({
      url: listener.url,
      connections: options.connections,
      durationSeconds: options.durationSeconds,
      succeededPerKey: webhooks.succeeded,
      attemptedPerKey: webhooks.attempted,
      request: (n) => {
        const { domain } = withDomain[n % withDomain.length]!;
        return {
          path: `/powens-webhook/${domain}/USER_SYNCED`,
          key: domain,
          method: 'POST',
          headers: { authorization: `Bearer user-token-${n}`, 'content-type': 'application/json' },
          body: JSON.stringify({ user: { id: n } }),
        };
      },
    });
    report(`${broker.name}: /powens-webhook ${summarize(webhook)}`);

    // Every success must reach its socket, once; a request the run stopped
    // before its answer may have gone through too, but never twice.
    const counts = () => {
      let missing = 0;
      let extra = 0;
      for (const socket of sockets) {
        const keys: Array<[string, number, typeof callbacks]> = [
          [socket.state, socket.callbacks, callbacks],
        ];
        if (socket.domain !== null) keys.push([socket.domain, socket.webhooks, webhooks]);
        for (const [key, delivered, route] of keys) {
          missing += Math.max(0, (route.succeeded.get(key) ?? 0) - delivered);
          extra += Math.max(0, delivered - (route.attempted.get(key) ?? 0));
        }
      }
      return { missing, extra };
    };
    try {
      await waitFor(
        () => counts().missing === 0,
        'every accepted request to reach its socket',
        30_000,
        100,
      );
    } catch {
      // Counted below as missing.
    }
    const { missing, extra } = counts();
    return {
      broker: broker.name,
      sockets: sockets.length,
      domains: withDomain.length,
      connections: options.connections,
      durationSeconds: options.durationSeconds,
      loadAverage: [loadAtStart, loadavg()[0]!],
      dispatcherRssBefore,
      dispatcherRssAfter,
      bytesPerSocket: Math.round((dispatcherRssAfter - dispatcherRssBefore) / sockets.length),
      secondsToOpenSockets,
      callback,
      webhook,
      callbacksDelivered: sockets.reduce((sum, s) => sum + s.callbacks, 0),
      webhooksDelivered: sockets.reduce((sum, s) => sum + s.webhooks, 0),
      missing,
      extra,
      misdelivered: sockets.reduce((sum, s) => sum + s.misdelivered, 0),
      socketsClosed: sockets.filter((s) => s.closeCode !== null).length,
    };
  } finally {
    pool?.close();
    await Promise.all(processes.map((demo) => demo.stop()));
    if (broker.name === 'amqp') await deleteRabbitExchanges(broker.url, prefix).catch(() => {});
  }
}

function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

function summarize(figures: DriveFigures): string {
  return `${Math.round(figures.requestsPerSecond)} req/s, p50 ${figures.latencyP50Ms} ms, p99 ${figures.latencyP99Ms} ms, ${figures.succeeded} ok, ${figures.failed} failed, ${figures.errors} errors`;
}
