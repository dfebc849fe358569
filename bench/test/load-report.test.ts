import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoadResults } from '../../apps/demo/loadtest/results';
import { loadMarkdown, readLoadResults } from '../src/load-report';

const route = (requestsPerSecond: number) => ({
  requestsPerSecond,
  latencyP50Ms: 4,
  latencyP99Ms: 31,
  succeeded: 12_000,
  failed: 0,
  errors: 0,
  timeouts: 0,
});

const RESULTS: LoadResults = {
  date: '2026-11-30T20:00:00.000Z',
  machine: { cpus: 2, node: 'v20.19.0' },
  rows: [
    {
      broker: 'redis',
      sockets: 10_000,
      domains: 1_000,
      connections: 20,
      durationSeconds: 10,
      loadAverage: [3.2, 4.75],
      dispatcherRssBefore: 120 * 2 ** 20,
      dispatcherRssAfter: 250 * 2 ** 20,
      bytesPerSocket: 13_631,
      secondsToOpenSockets: 14.9,
      callback: route(1203.4),
      webhook: route(987.6),
      callbacksDelivered: 12_020,
      webhooksDelivered: 12_000,
      missing: 0,
      extra: 0,
      misdelivered: 0,
      socketsClosed: 0,
    },
  ],
};

describe('the service load section', () => {
  it('is absent while the load test has not written its results', () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'load-report-')), 'results-load.json');
    expect(readLoadResults(missing)).toBeNull();
    expect(loadMarkdown(null)).toEqual([]);
  });

  it('shows each route of each broker, and the memory per waiting socket', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'load-report-')), 'results-load.json');
    writeFileSync(path, JSON.stringify(RESULTS));
    const text = loadMarkdown(readLoadResults(path)).join('\n');
    expect(text).toContain('## Service load');
    expect(text).toContain('10000 WebSockets');
    expect(text).toContain(
      '| redis | /callback | 1203 | 4 ms | 31 ms | 12000 | 0 | 0 | 12020 | 0 | 0 | 3.2 → 4.8 |',
    );
    expect(text).toContain('| redis | /powens-webhook | 988 |');
    expect(text).toContain('| redis | 10000 | 14.9 s | 120 MiB → 250 MiB | 13.3 KiB |');
  });
});
