import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterMarkdown } from '../src/clusters';
import { markdown, PYTHON_SCENARIO, type Row } from '../src/report';
import { type Results, readResults, writeResults } from '../src/results';

const spread = (median: number) => ({ min: median * 0.9, median, max: median * 1.1 });

function row(
  target: string,
  scenario: string,
  figure: string,
  adapter: number,
  raw: number | null,
): Row {
  return {
    target,
    scenario,
    figure,
    higherIsBetter: figure.includes('/s'),
    adapter: spread(adapter),
    raw: raw === null ? null : spread(raw),
    ratio: raw === null ? null : adapter / raw,
  };
}

const results = (rows: Row[], extra: Partial<Results> = {}): Results => ({
  date: '2026-01-01T00:00:00.000Z',
  rounds: 5,
  rows,
  machine: { cpu: 'test' },
  ...extra,
});

describe('markdown', () => {
  it('reports the Python original in a section of its own, speed-ups against the 5× target', () => {
    const text = markdown(
      results([
        row('amqp', 'throughput', 'msgs/s', 12_000, 12_500),
        row('amqp', PYTHON_SCENARIO, 'sequential msgs/s', 2_400, 600),
        row('amqp', PYTHON_SCENARIO, 'p50 µs', 400, 1_600),
        row('amqp', PYTHON_SCENARIO, 'pipelined msgs/s', 9_000, 2_000),
      ]),
    ).join('\n');
    const [tables, python] = text.split('## The Python original');
    expect(tables).not.toContain('sequential msgs/s');
    expect(python).toContain(
      '| sequential msgs/s | 2,400 (2,160 – 2,640) | 600 (540 – 660) | 4.00 | MISSED (≥ 5×) |',
    );
    expect(python).toContain('| p50 µs | 400 (360 – 440) | 1,600 (1,440 – 1,760) | 4.00 |  |');
    expect(python).toContain(
      '| pipelined msgs/s | 9,000 (8,100 – 9,900) | 2,000 (1,800 – 2,200) | 4.50 | MISSED (≥ 5×) |',
    );
    expect(python).toContain('publisher confirms');
    expect(python).not.toContain('sequential rate on the same broker');
  });

  it("sets the Python section's sequential figure beside the raw client's own sequential rate", () => {
    const text = markdown(
      results([
        row('amqp', 'latency', 'p50 µs', 450, 400),
        row('amqp', 'latency', 'sequential msgs/s', 2_200, 2_500),
        row('amqp', PYTHON_SCENARIO, 'sequential msgs/s', 2_000, 625),
      ]),
    ).join('\n');
    expect(text).toContain(
      'send → callback round trips, timed the same way) is 2,500 a second, 4.00× the',
    );
  });

  it('says when and why the Python peer was skipped, and how long each target took', () => {
    const text = markdown(
      results([row('amqp', 'throughput', 'msgs/s', 12_000, 12_500)], {
        durationS: 400,
        durations: { amqp: { scenarios: 100, curves: 50 } },
        skipped: [
          { target: 'amqp', scenario: PYTHON_SCENARIO, reason: 'python3 cannot import aio_pika' },
          { target: 'redis', reason: 'no broker answers at 127.0.0.1:6379' },
        ],
      }),
    ).join('\n');
    expect(text).toContain('The run took 400 s: amqp 150 s (curves 50 s).');
    expect(text).toContain('Skipped on amqp: python3 cannot import aio_pika.');
    expect(text).toContain('- redis: skipped, no broker answers at 127.0.0.1:6379');
  });
});

describe('clusterMarkdown', () => {
  it('puts each cluster beside the single node it is compared with', () => {
    const single = [
      row('redis', 'throughput', 'msgs/s', 15_000, 26_000),
      row('redis', 'latency', 'p50 µs', 300, 230),
      row('redis', 'latency', 'p99 µs', 600, 1_200),
    ];
    const cluster = results(
      [
        row('redis (cluster, 3 masters)', 'throughput', 'msgs/s', 12_000, null),
        row('redis (cluster, 3 masters)', 'latency', 'p50 µs', 450, null),
      ],
      {
        targets: { 'redis (cluster, 3 masters)': 'redis://127.0.0.1:7001?cluster=true' },
        skipped: [{ target: 'amqp (3 nodes)', reason: 'TEAL_RABBITMQ_CLUSTER_URL is not set' }],
      },
    );
    const text = clusterMarkdown(single, cluster).join('\n');
    expect(text).toContain(
      '| redis (cluster, 3 masters) | msgs/s | 15,000 (13,500 – 16,500) | 12,000 (10,800 – 13,200) | 0.80 |',
    );
    expect(text).toContain(
      '| redis (cluster, 3 masters) | p50 µs | 300 (270 – 330) | 450 (405 – 495) | 1.50 |',
    );
    expect(text).not.toContain('| redis (cluster, 3 masters) | p99 µs');
    expect(text).toContain('- amqp (3 nodes): skipped, TEAL_RABBITMQ_CLUSTER_URL is not set');
    expect(text).toContain('`redis://127.0.0.1:7001?cluster=true`');
    expect(clusterMarkdown(single, null)).toEqual([]);
  });
});

describe('readResults', () => {
  it('reads back a figure that was not a number as NaN, which the report shows as –', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-results-'));
    const path = join(dir, 'results.json');
    writeResults(path, results([row('nats', 'payload', 'MB/s 1 MiB', 72, Number.NaN)]));
    const back = readResults(path)!;
    expect(back.rows[0]!.raw!.median).toBeNaN();
    expect(markdown(back).join('\n')).toContain(
      '| payload | MB/s 1 MiB | 72.0 (64.8 – 79.2) | – | – |',
    );
    rmSync(dir, { recursive: true });
  });
});
