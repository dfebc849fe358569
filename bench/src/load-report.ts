import { existsSync, readFileSync } from 'node:fs';
import type { LoadResults } from '../../apps/demo/loadtest/results';

export function readLoadResults(path: string): LoadResults | null {
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as LoadResults;
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/**
 * The "Service load" section: the service (listener and dispatcher) under
 * autocannon, per broker, while its WebSockets wait. Nothing when the load
 * test has not written its results.
 */
export function loadMarkdown(results: LoadResults | null): string[] {
  if (results === null || results.rows.length === 0) return [];
  const first = results.rows[0]!;
  const machine =
    results.machine === undefined
      ? ''
      : ` on ${results.machine.cpus} cores, Node ${results.machine.node}`;
  const lines = [
    '## Service load',
    '',
    `\`pnpm --filter @teal/demo loadtest\` on ${results.date}${machine}: the service itself, the`,
    'dispatcher and the listener as two processes (one for `memory://`), started with `--role`',
    `on each broker. ${first.sockets} WebSockets wait on the dispatcher's \`/ws\`, each registered to`,
    `its own OAuth state, and one in ten also to a Powens domain of its own (${first.domains} domains).`,
    `autocannon then drives, with ${first.connections} connections for ${first.durationSeconds} s each, \`GET /callback?state=…\``,
    "(each request to the next socket's state) and `POST /powens-webhook/<domain>/USER_SYNCED`",
    '(`Authorization: Bearer`), from the same machine as the service and the brokers. Every answer',
    'with success must reach its socket exactly once, and nothing may reach another socket.',
    '"per socket" is the growth of the dispatcher\'s resident memory (VmRSS) while the sockets',
    "opened and registered, divided by their number. The load average (1 min) is the machine's",
    "at the start and the end of each broker's run: other work shared the 2 cores.",
    '',
    '| broker | route | req/s | p50 | p99 | ok | failed | errors | delivered | missing | wrong socket | load avg |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of results.rows) {
    for (const route of ['callback', 'webhook'] as const) {
      const figures = row[route];
      const delivered = route === 'callback' ? row.callbacksDelivered : row.webhooksDelivered;
      lines.push(
        `| ${row.broker} | ${route === 'callback' ? '/callback' : '/powens-webhook'} | ${Math.round(figures.requestsPerSecond)} | ${figures.latencyP50Ms} ms | ${figures.latencyP99Ms} ms | ${figures.succeeded} | ${figures.failed} | ${figures.errors + figures.timeouts} | ${delivered} | ${route === 'callback' ? row.missing : ''} | ${route === 'callback' ? row.misdelivered : ''} | ${route === 'callback' ? `${row.loadAverage[0].toFixed(1)} → ${row.loadAverage[1].toFixed(1)}` : ''} |`,
      );
    }
  }
  lines.push(
    '',
    '"delivered" may exceed "ok" by the requests still in flight when autocannon stopped (sent,',
    'never answered to it); the load test fails on a frame beyond the requests made for its key.',
    '',
    '| broker | sockets | opened and registered in | dispatcher RSS before → after | per socket |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const row of results.rows) {
    lines.push(
      `| ${row.broker} | ${row.sockets} | ${row.secondsToOpenSockets.toFixed(1)} s | ${mib(row.dispatcherRssBefore)} → ${mib(row.dispatcherRssAfter)} | ${kib(row.bytesPerSocket)} |`,
    );
  }
  lines.push('');
  return lines;
}
